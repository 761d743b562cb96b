"""ownstats stream processor: CloudFront real-time log records in, analytics events out.

This package is the only code shipped to AWS Lambda, so it keeps its imports small
and its start-up cheap. Local mode (`ownstats serve|ingest`) runs the very same code
with a local sink and salt store.
"""
