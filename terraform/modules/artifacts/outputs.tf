output "keys" {
  description = "Content-addressed S3 key of each artifact (logical name => key), including ones whose file is missing."
  value       = try(local.keys, {})

  # Known at plan time, but whatever reads a key waits for the uploads (an application or endpoint
  # created before its object exists fails).
  depends_on = [aws_s3_object.this]
}

output "urls" {
  description = "s3:// URL of each uploaded artifact (logical name => URL)."
  value       = try({ for name, object in aws_s3_object.this : name => "s3://${object.bucket}/${object.key}" }, {})
}

output "uploaded" {
  description = "Logical names of the artifacts whose file exists and is uploaded."
  value       = try(sort(keys(aws_s3_object.this)), [])
}
