"""Operations view: the alarms that mean "page views are being lost or delayed",
their notification topic, and (``-c monitoring_dashboard=true``) one dashboard for
the whole path of a page view.

The processor's own metrics (RecordsIn, EventsAccepted, DeliveryFailures, PageViews,
and with ``-c reason_metrics=true`` EventsRejected per ``reason``) arrive via
Embedded Metric Format in the ``ownstats`` namespace with Powertools' ``service``
dimension. The dashboard reads the per-``reason`` rejections with a SEARCH
expression (one line per reason, whatever reasons the processor adds later) and
plain metrics with the ``service`` dimension for the rest (alarms cannot use
SEARCH); without reason metrics it shows all rejections as one line, computed.

What is fixed cost here (us-east-1 list prices): each standard alarm $0.10/month,
the dashboard $3/month, each custom metric $0.30/month — see docs/DEPLOY.md.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
ONE_HOUR = Duration.hours(1)


class Monitoring(Construct):
    """Exposes ``alarms``, ``topic`` (alarm notifications) and ``dashboard`` (or None)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        namespace: str,
        service_name: str,
        stream: kinesis.IStream | None,
        function: lambda_.IFunction | None,
        delivery_stream_name: str,
        failure_queue: sqs.IQueue,
        alarm_email: str | None,
        dashboard: bool,
        reason_metrics: bool,
        repair_function: lambda_.IFunction | None = None,
    ) -> None:
        """With no ``stream`` and ``function`` (``-c realtime=false``) the stream path's
        alarms are left out and the repair, then the only input, is watched instead."""
        super().__init__(scope, construct_id)
        self._namespace = namespace
        self._service = service_name

        # Alarm notifications. Not encrypted with KMS on purpose: CloudWatch can only
        # publish to a KMS-encrypted topic whose key policy names it, which the free
        # AWS-managed aws/sns key's policy cannot, so it would take a customer-managed
        # key ($1-3/month) to encrypt messages that hold no visitor data at all.
        # Publishers must use TLS (cdk-nag SNS3).
        self.topic = sns.Topic(self, "Alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(alarm_email))

        repaired = cw.Metric(
            namespace=self._namespace, metric_name="EventsRepaired",
            dimensions_map={"service": self._service}, statistic="Sum",
            period=ONE_HOUR, label="events the archive repair added",
        )  # fmt: skip
        queue_depth = failure_queue.metric_approximate_number_of_messages_visible(
            period=FIVE_MINUTES, statistic="Maximum"
        )
        self.alarms: list[cw.Alarm] = []
        if stream is not None and function is not None:
            self._stream_alarms(function, delivery_stream_name, repaired)
        if repair_function is not None and stream is None:
            # the repair is the only input: a failing run is lost freshness, not a heal
            self.alarms.append(
                cw.Alarm(
                    self, "RepairErrorsAlarm",
                    alarm_description="The repair from the log archive, this stack's only "
                    "input (-c realtime=false), failed a run: new page views wait in the "
                    "archive until it succeeds (each hour is read again; nothing is lost "
                    "while the archive keeps its logs). See the repair's log group.",
                    metric=repair_function.metric_errors(period=ONE_HOUR, statistic="Sum"),
                    threshold=0, evaluation_periods=1,
                    comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                )
            )  # fmt: skip
        self.alarms += [
            cw.Alarm(
                self, "FailureQueueAlarm",
                alarm_description="Kinesis batches exhausted their retries (their metadata is "
                "in the on-failure queue: fix the cause, then replay them from the stream), or "
                "a lake compaction or repair run failed 3 times (the message holds its error; "
                "it runs again every hour and loses nothing meanwhile).",
                metric=queue_depth, threshold=0, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "LakeQuarantineAlarm",
                alarm_description="The lake compactor found objects under events/ that are "
                "no readable events files (damaged, empty, or another schema) and moved them "
                "to the lake's quarantine/ prefix; its log names each one and why.",
                metric=self._own("ObjectsQuarantined", ONE_HOUR), threshold=0,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
        ]  # fmt: skip
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))

        self.dashboard: cw.Dashboard | None = None
        if dashboard and stream is not None and function is not None:
            self.dashboard = self._dashboard(
                dashboard_name,
                stream=stream,
                function=function,
                queue_depth=queue_depth,
                reason_metrics=reason_metrics,
                **self._stream_metrics,
            )
        elif dashboard:
            self.dashboard = self._archive_dashboard(
                dashboard_name, repair_function, repaired, queue_depth
            )

    def _stream_alarms(
        self, function: lambda_.IFunction, delivery_stream_name: str, repaired: cw.IMetric
    ) -> None:
        """Kinesis, the processor and Firehose: the real-time path's alarms."""
        firehose_dims = {"DeliveryStreamName": delivery_stream_name}
        iterator_age = function.metric(
            "IteratorAge", statistic="Maximum", period=ONE_MINUTE, label="iterator age (ms)"
        )
        freshness = cw.Metric(
            namespace="AWS/Firehose", metric_name="DeliveryToS3.DataFreshness",
            dimensions_map=firehose_dims, statistic="Maximum", period=FIVE_MINUTES,
            label="oldest record not yet in S3 (s)",
        )  # fmt: skip
        delivery_success = cw.Metric(
            namespace="AWS/Firehose", metric_name="DeliveryToS3.Success",
            dimensions_map=firehose_dims, statistic="Average", period=FIVE_MINUTES,
            label="S3 delivery success ratio",
        )  # fmt: skip
        delivery_failures = self._own("DeliveryFailures", FIVE_MINUTES)
        # records Firehose could not turn into Parquet (a schema mismatch): they go to the
        # lake's errors/ while DeliveryToS3.Success stays at 1, so only this metric
        # ("Data format conversion CloudWatch metrics") tells
        failed_conversion = cw.Metric(
            namespace="AWS/Firehose", metric_name="FailedConversion.Records",
            dimensions_map=firehose_dims, statistic="Sum", period=FIVE_MINUTES,
            label="records Firehose could not convert to Parquet",
        )  # fmt: skip
        # counted by the hourly compactor (lake_compactor.handler.recent_delivery_errors)
        delivery_errors = cw.Metric(
            namespace=self._namespace, metric_name="DeliveryErrorObjects",
            dimensions_map={"service": self._service}, statistic="Maximum",
            period=ONE_HOUR, label="objects under errors/ (last 2 h)",
        )  # fmt: skip
        self.alarms += [
            cw.Alarm(
                self, "IteratorAgeAlarm",
                alarm_description="The processor is over 5 minutes behind the stream: events "
                "are delayed, and lost after the stream's 24 h retention. Check its errors.",
                metric=iterator_age, threshold=300_000, evaluation_periods=5,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "ProcessorErrorsAlarm",
                alarm_description="The processor failed whole invocations for 15 minutes; "
                "see its log group.",
                metric=function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=0, evaluation_periods=3,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "DeliveryFailuresAlarm",
                alarm_description="Firehose refused records the processor sent (they are "
                "retried via Kinesis); check the delivery stream's limits and errors.",
                metric=delivery_failures, threshold=0, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "LakeDeliveryAlarm",
                alarm_description="Firehose could not write Parquet to S3 (see the lake's "
                "errors/ prefix and the Firehose log group).",
                metric=delivery_success, threshold=1, evaluation_periods=3,
                comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "LakeConversionAlarm",
                alarm_description="Firehose could not convert events to Parquet (the events "
                "schema and the data disagree): they are in the lake bucket's errors/ (kept "
                "365 days). Fix the cause, then `ownstats replay-errors --stack <name> --apply`.",
                metric=failed_conversion, threshold=0, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "LakeDeliveryErrorsAlarm",
                alarm_description="Firehose wrote records it could not convert or partition "
                "to the lake bucket's errors/ in the last 2 hours (counted by the hourly "
                "compactor; kept 365 days). Their folder names the cause; fix it, then "
                "`ownstats replay-errors --stack <name> --apply`.",
                metric=delivery_errors,
                threshold=0, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "EventsRepairedAlarm",
                alarm_description="The hourly repair found events in the log archive's "
                "standard logs that the lake lacked and added them: something on the stream "
                "path (Kinesis, the processor, Firehose) lost data and the archive healed it. "
                "Find what (the failure queue, the processor's and Firehose's metrics); the "
                "numbers are complete again.",
                metric=repaired, threshold=0, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self, "LakeFreshnessAlarm",
                alarm_description="Events wait over 15 minutes in Firehose before reaching S3.",
                metric=freshness, threshold=900, evaluation_periods=3,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
        ]  # fmt: skip
        self._stream_metrics = {
            "iterator_age": iterator_age,
            "delivery_failures": delivery_failures,
            "freshness": freshness,
            "delivery_success": delivery_success,
        }

    def _dashboard(
        self,
        name: str,
        *,
        stream: kinesis.IStream,
        function: lambda_.IFunction,
        iterator_age: cw.IMetric,
        delivery_failures: cw.IMetric,
        freshness: cw.IMetric,
        delivery_success: cw.IMetric,
        queue_depth: cw.IMetric,
        reason_metrics: bool,
    ) -> cw.Dashboard:
        """The whole path of a page view on one page, with the alarms' states."""
        rejected: cw.IMetric
        if reason_metrics:
            rejected = self._search("EventsRejected", "rejected", "reason")
        else:  # every record read is accepted, rejected, or failed delivery (retried)
            rejected = cw.MathExpression(
                expression="FILL(records, 0) - FILL(accepted, 0) - FILL(failed, 0)",
                using_metrics={
                    "records": self._own("RecordsIn", ONE_MINUTE),
                    "accepted": self._own("EventsAccepted", ONE_MINUTE),
                    "failed": self._own("DeliveryFailures", ONE_MINUTE),
                },
                label="rejected (all reasons; -c reason_metrics=true splits them)",
                period=ONE_MINUTE,
            )
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name)
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Beacons in (Kinesis) and records read (processor)",
                left=[
                    stream.metric_incoming_records(
                        period=ONE_MINUTE, statistic="Sum", label="Kinesis incoming records"
                    ),
                    self._own("RecordsIn", ONE_MINUTE),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Page views per minute",
                left=[self._own("PageViews", ONE_MINUTE)],
                width=12,
            ),
            cw.GraphWidget(
                title="Events accepted / rejected" + (" by reason" if reason_metrics else ""),
                left=[self._own("EventsAccepted", ONE_MINUTE), rejected],
                width=12,
                stacked=True,
            ),
            cw.GraphWidget(
                title="Processor iterator age (how far behind the stream)",
                left=[iterator_age],
                width=12,
            ),
            cw.GraphWidget(
                title="Processor errors and throttles",
                left=[
                    function.metric_errors(period=ONE_MINUTE),
                    function.metric_throttles(period=ONE_MINUTE),
                    delivery_failures,
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Processor duration (ms)",
                left=[
                    function.metric_duration(period=ONE_MINUTE, statistic="Average"),
                    function.metric_duration(period=ONE_MINUTE, statistic="p99"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Firehose delivery to the lake",
                left=[freshness],
                right=[delivery_success],
                width=12,
            ),
            cw.GraphWidget(
                title="On-failure queue (batches past their retries)",
                left=[queue_depth],
                width=12,
            ),
        )
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return dashboard

    def _archive_dashboard(
        self,
        name: str,
        repair_function: lambda_.IFunction | None,
        repaired: cw.IMetric,
        queue_depth: cw.IMetric,
    ) -> cw.Dashboard:
        """With the archive as the only input: what each repair run added, and its health."""
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name)
        widgets: list[cw.IWidget] = [
            cw.GraphWidget(
                title="Events added from the log archive (per hour)", left=[repaired], width=12
            ),
            cw.GraphWidget(
                title="On-failure queue (runs past their retries)", left=[queue_depth], width=12
            ),
        ]
        if repair_function is not None:
            widgets.append(
                cw.GraphWidget(
                    title="Repair runs: errors and duration (ms)",
                    left=[repair_function.metric_errors(period=FIVE_MINUTES)],
                    right=[repair_function.metric_duration(period=FIVE_MINUTES,
                                                           statistic="Maximum")],
                    width=24,
                )
            )  # fmt: skip
        dashboard.add_widgets(*widgets)
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return dashboard

    def _own(self, metric_name: str, period: Duration) -> cw.Metric:
        """A processor metric with exactly Powertools' ``service`` dimension."""
        return cw.Metric(
            namespace=self._namespace,
            metric_name=metric_name,
            dimensions_map={"service": self._service},
            statistic="Sum",
            period=period,
            label=metric_name,
        )

    def _search(self, metric_name: str, label: str, *dimensions: str) -> cw.MathExpression:
        """One line per value of ``dimensions`` (besides ``service``) of a processor metric.

        The schema ``{namespace,dims…,service}`` selects exactly that dimension set; the
        quoted service value keeps other ownstats stacks in the account out of the graph.
        """
        schema = ",".join([self._namespace, *dimensions, "service"])
        return cw.MathExpression(
            expression=(
                f'SEARCH(\'{{{schema}}} MetricName="{metric_name}" "{self._service}"\', '
                "'Sum', 60)"
            ),
            label=label,
            period=ONE_MINUTE,
        )
