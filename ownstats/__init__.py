"""ownstats local mode and tooling: everything around the Lambda that is not shipped to AWS.

The stream processor (``stream_processor``) is the only code deployed to Lambda. This
package holds what replaces the AWS services on a laptop — the Parquet lake sink
(``ownstats.lake``), the DuckDB query engine over it (``ownstats.engine``) — and the
``ownstats`` command line that ties them together.
"""
