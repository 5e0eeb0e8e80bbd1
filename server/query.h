/*
 * query.h - the awsQuery wire form (used by CloudWatch metrics clients that predate awsJson):
 * form-encoded requests turned into the same JSON shape the awsJson1.0 form carries, and JSON
 * results turned into the XML answers awsQuery clients parse. With both directions here, the
 * metrics handlers are written once, against JSON.
 *
 * Mapping: "A.member.2.B=x" becomes {"A": [null, {"B": "x"}]} with 1-based indices compacted
 * to a JSON array in index order. Values stay strings (the handlers accept numeric strings and
 * ISO-8601 timestamps wherever the JSON form has numbers).
 */
#ifndef SKY_SERVE_QUERY_H
#define SKY_SERVE_QUERY_H

#include <jansson.h>
#include <stddef.h>

/* Parses a form body. Returns a new JSON object, or NULL with the awsQuery error code in *code
 * (MalformedQueryString, InvalidParameterValue for a list over CloudWatch's member limit,
 * InternalFailure) and a message in err. Keys are bounded (256 bytes, 16 segments, 64 names
 * per structure, 400,000 parameters) and list indexes are checked against the API's member
 * limits before anything is allocated. */
json_t *sky__query_parse(const char *body, size_t len, const char **code, char *err, size_t cap);

/* Renders <{action}Response><{action}Result>...</{action}Result><ResponseMetadata>... for a
 * JSON result (NULL: no Result element). Members named "Timestamp" or "Timestamps" holding
 * numbers (epoch seconds) are written as ISO-8601, as are those whose name ends in "Timestamp"
 * (StateUpdatedTimestamp, ...). Returns malloc'd XML, NULL on OOM. */
char *sky__query_to_xml(const char *action, json_t *result, unsigned long long request_id,
                        size_t *len);

#endif
