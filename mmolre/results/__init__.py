"""Results: every run the notebooks and benchmarks recorded under ``reports/``, summarised and set beside the
published numbers.

- :mod:`~mmolre.results.recorded`: the per-seed tables of every profile, tagged with the dataset and features they
  came from (the dataset records of :mod:`mmolre.data.registry`, the parameters the executed notebook recorded);
- :mod:`~mmolre.results.published`: the published numbers, their sources and the features they used;
- :mod:`~mmolre.results.tables`: the results tables (sentiment, emotions, paired, incomplete, efficiency);
- :mod:`~mmolre.results.headline`: our best run per dataset beside the strongest published number;
- :mod:`~mmolre.results.readme`: the generated blocks of README.md and ``docs/results.md``;
- :mod:`~mmolre.results.dashboard`: the dashboard ``reports/index.html``.
"""
