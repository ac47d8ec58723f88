"""Paper-table reproduction: dataset registry, comparisons (Tables 2–4, Figs. 5–10), ablation and
λ studies (Tables 1, 5, Figs. 3, 11), plots and the RESULTS.md report. See ``critnet bench``."""
