"""CI pipelines that run patchkit's matrix one cell per job: a GitHub Actions workflow and a
GitLab CI pipeline, rendered to text by pure functions from the matrix definition the local run
uses (patchkit.testing.matrix.Definition). Each cell's job runs `patchkit build --matrix --only
BASE/SUITE --results results`, the local matrix's own code path for one cell; the last job runs
`patchkit matrix report` over the cells' artifacts."""
