"""Trained models that leave the project: an export folder written by :func:`~mmolre.exports.folder.export`,
rebuilt by :func:`~mmolre.exports.folder.load_pretrained` on any device, scored by
:func:`~mmolre.exports.predict.predict`.

An export folder holds three files:

- ``model.safetensors``: the selected weights (the fine-tuned top layers of a text encoder included);
- ``config.json``: the export format, model name and configuration, modality widths, tasks, how raw text is encoded
  (:class:`~mmolre.exports.config.TextEncoding`: encoder, kind, ``max_tokens``, frozen layers, lower-casing), the
  text encoder input of a fine-tuned model (:class:`~mmolre.data.text_encoder.TextInput`), the training dataset
  (name, load options, description, fingerprint), the valid and test metrics of the run and the sha256 of the weights;
- ``README.md``: the model card (data, features, results, limits, how to predict; :mod:`~mmolre.exports.card`).

Loading checks the config's fields, the weights' sha256 and that every tensor fits the rebuilt model; each problem is
one :class:`~mmolre.exports.config.ExportError` line naming the file. The encoder a model reads text with is never
stored: frozen lower layers come from the same pretrained encoder at prediction time (it must be installed, see
:mod:`mmolre.data.encoders`).
"""
