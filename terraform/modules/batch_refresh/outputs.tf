output "application_id" {
  description = "Id of the EMR Serverless application (jobs/batch/launch.py --application-id)."
  value       = try(aws_emrserverless_application.this.id, null)
}

output "application_arn" {
  description = "ARN of the EMR Serverless application."
  value       = try(aws_emrserverless_application.this.arn, null)
}

output "job_role_arn" {
  description = "ARN of the job execution role (jobs/batch/launch.py --role-arn)."
  value       = try(aws_iam_role.job.arn, null)
}

output "scheduler_role_arn" {
  description = "ARN of the role EventBridge Scheduler assumes to start the job."
  value       = try(aws_iam_role.scheduler.arn, null)
}

output "schedule_name" {
  description = "Name of the daily schedule (in the default schedule group)."
  value       = try(aws_scheduler_schedule.this.name, null)
}

output "job" {
  description = "What a run reads and writes: entry point, bundle, history, live transactions (null: none), output, log URI, feature group, region."
  value = try({
    entry_point   = local.entry_point_uri
    bundle        = local.bundle_uri
    history       = local.history_uri
    live          = local.live_uri
    output        = local.output_uri
    log_uri       = local.log_uri
    feature_group = var.feature_group_name
    region        = local.region
  }, null)
}

output "start_job_run" {
  description = "The scheduled StartJobRun request (AWS SDK member names; ClientToken is the schedule's execution id): jobs/batch/launch.py --from-terraform starts the same run by hand."
  value       = try(local.start_job_run, null)
}

output "consistency" {
  description = "The daily consistency run (null unless consistency_check.enabled): its X86_64 application's id, job role ARN, schedule name, the job's arguments and metric namespace, and its StartJobRun request."
  value = try(var.consistency_check.enabled ? {
    application_id   = aws_emrserverless_application.consistency[0].id
    job_role_arn     = aws_iam_role.consistency_job[0].arn
    schedule_name    = aws_scheduler_schedule.consistency[0].name
    arguments        = local.consistency.entry_point_arguments
    metric_namespace = local.cc.metric_namespace
    start_job_run    = local.consistency_start_job_run
  } : null, null)
}
