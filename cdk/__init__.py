"""The ownstats CDK v2 app: everything ownstats deploys into the site owner's account.

Layout (one construct per unit, the stack only composes and grants):

- ``config``      context → typed ``OwnstatsConfig`` (the only place context is read)
- ``archive``     raw CloudFront/S3 access logs bucket (lifecycle-expired: raw IPs)
- ``stream``      encrypted Kinesis Data Stream fed by CloudFront real-time logs
- ``collector``   private tracker bucket + CloudFront (OAC) + real-time log config
- ``salts``       SSM path of the daily visitor-hash salts + its IAM
- ``lake``        Parquet lake bucket, Glue database/tables, Firehose delivery stream
- ``analytics``   Athena workgroup, results bucket, the athena_views views
- ``processor``   the stream_processor Lambda and its Kinesis event source
- ``monitoring``  alarms and their topic; the dashboard on request
- ``dashboard``   the signed-in hosted dashboard: Cognito, HTTP API + Lambda, CloudFront
  (``dashboard_page`` derives its page from ownstats/dashboard/static/index.html)
- ``bundling``    Docker-free build of the Lambda asset (pip for aarch64 + source)
- ``iam``         the aspect that keeps wildcard IAM actions out of the template
- ``stack`` / ``app``  composition and entry point (``python -m cdk.app``)
"""
