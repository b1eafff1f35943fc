"""datatrove: keep only documents whose source URL may be used for training.

    pip install "tdmscan[datatrove]"
    python examples/datatrove_pipeline.py input_jsonl_dir/ output/ --ledger ledger/

Input documents need ``metadata["url"]`` (JSONL rows with a "url" field, or datatrove's
WarcReader). Dropped documents go to ``output/excluded`` with ``filter_reason`` set.
"""

from __future__ import annotations

import argparse

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from tdmscan.integrations.datatrove import TdmscanFilter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--ledger")
    ap.add_argument("--agent", default="MyBot")
    ap.add_argument("--tasks", type=int, default=1)
    args = ap.parse_args()
    LocalPipelineExecutor(
        pipeline=[
            JsonlReader(args.input),
            TdmscanFilter(
                agents=[args.agent],
                ledger=args.ledger,
                exclusion_writer=JsonlWriter(f"{args.output}/excluded"),
            ),
            JsonlWriter(f"{args.output}/kept"),
        ],
        tasks=args.tasks,
        logging_dir=f"{args.output}/logs",
    ).run()


if __name__ == "__main__":
    main()
