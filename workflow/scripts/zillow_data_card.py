from bayespipe.analyses.zillow import card
from bayespipe.io import read_json
from bayespipe.jobs import job

with job(snakemake) as record:
    inputs = snakemake.input
    data_card = card.build(
        {k: inputs[k] for k in ("merge", "columns", "choice", "rows", "split", "predictors")},
        inputs.groups,
        inputs.validation,
        inputs.missing,
        snakemake.params.source,
        snakemake.params.raw_files,
        read_json(inputs.truth) if inputs.truth else None,
        split_path=inputs.split_rows,
    )
    card.write(data_card, snakemake.output.card, snakemake.output.markdown)
    card.figure(data_card, inputs.groups, snakemake.output.figure)
    record["stages"] = {s["stage"]: s["rows"] for s in data_card["stages"]}
