"""The host-side runner: execute ``notebooks/NN_*.ipynb`` with papermill into ``reports/<profile>/``.

Parameter files (``params/*.yaml``) have this format; every key is optional::

    profile: mosei            # reports go to reports/<profile>/; also injected as the `profile` parameter
    notebooks: [01_data, 03_train_mmolre]   # which notebooks to run (default: all, in sorted order)
    plugins: [my_module]      # modules registering models and datasets, imported before anything is checked
    requires: {cuda: true}    # what the machine must have (mmolre.runner.requirements)
    common:                   # each name is injected into every selected notebook that declares it
      data_dir: /path/to/data
    03_train_mmolre:          # per-notebook overrides, applied after `common`
      epochs: 30

Modules, from the file to the run:

- :mod:`~mmolre.runner.param_file`: strict YAML loading and ``-p NAME VALUE`` overrides;
- :mod:`~mmolre.runner.notebooks`: which notebooks exist and their hygiene;
- :mod:`~mmolre.runner.checks`: each value against the notebook's declared type and what it must be beyond it;
- :mod:`~mmolre.runner.plan`: what to run, checked before any kernel starts;
- :mod:`~mmolre.runner.kernel`, :mod:`~mmolre.runner.execute`: the kernel and the staged execution;
- :mod:`~mmolre.runner.outputs`, :mod:`~mmolre.runner.profile_index`, :mod:`~mmolre.runner.pages`: which run wrote
  which file, the profile's index and the HTML pages;
- :mod:`~mmolre.runner.reproducible`: whether a regenerated profile gives the committed tables.

One section's runs outside its notebook (the ``train`` and ``export`` commands) are :mod:`mmolre.section_runs`,
above the runner: they use it and the experiment driver.

The notebooks' parameters are read by :mod:`mmolre.notebook_parameters`. The runner imports only the base modules
(paths, files, messages, config, plugins, progress, interrupts, notebook_parameters) and papermill, filelock and
jinja2: it checks names and declared types itself, and what a value must be beyond its type with the checks its
caller gives (the command line gives :data:`mmolre.parameter_checks.CHECKS`, which read the registries); torch is
imported only when a parameter file asks for a GPU (:mod:`~mmolre.runner.requirements`).
"""


class RunnerError(RuntimeError):
    """A notebook run that cannot start or that failed; the message names the notebook and the problem."""


__all__ = ["RunnerError"]
