/*
 * ingest.h - the HTTP log ingestion endpoints: POST /ingest/bulk (ND-JSON, one event a line) and
 * POST /v1/logs (OTLP/HTTP logs, JSON or protobuf). The destination comes from the
 * x-aws-log-group and x-aws-log-stream headers; success is 200 with body {} (an empty
 * protobuf ExportLogsServiceResponse for a protobuf request).
 */
#ifndef SKY_SERVE_INGEST_H
#define SKY_SERVE_INGEST_H

#include "reply.h"

void sky__ingest_handle(const sky__request *req, sky__reply *r);

#endif
