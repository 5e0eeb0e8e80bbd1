/*
 * log_tags.h - tags on log groups: TagResource, UntagResource and ListTagsForResource (by ARN),
 * the deprecated TagLogGroup, UntagLogGroup and ListTagsLogGroup (by name), and CreateLogGroup's
 * `tags`. Stored in the log_group_tags table (store.c), deleted with their group.
 */
#ifndef SKY_SERVE_LOG_TAGS_H
#define SKY_SERVE_LOG_TAGS_H

#include "reply.h"

#include <sqlite3.h>
#include <stdint.h>

#define SKY__MAX_TAGS 50 /* per resource, CloudWatch Logs' limit */

void sky__tag_resource(const sky__request *req, json_t *body, sky__reply *r);
void sky__untag_resource(const sky__request *req, json_t *body, sky__reply *r);
void sky__list_tags_for_resource(const sky__request *req, json_t *body, sky__reply *r);
void sky__tag_log_group(const sky__request *req, json_t *body, sky__reply *r);
void sky__untag_log_group(const sky__request *req, json_t *body, sky__reply *r);
void sky__list_tags_log_group(const sky__request *req, json_t *body, sky__reply *r);

/* A request's `tags` map (member `field`) checked as the API model constrains it: an object of
 * 1-50 string members, keys 1-128 and values 0-256 characters of the model's patterns, no key
 * starting "aws:". true when valid (absent or null counts as valid only when !required);
 * else false with the error replied (SerializationException for wrong JSON types,
 * InvalidParameterException otherwise). Reads the request only: call before taking the lock. */
bool sky__tags_check(json_t *body, const char *field, bool required, sky__reply *r);

/* Sets `tags` (checked) on group `gid`, replacing the values of keys it already has; inside the
 * caller's transaction. SQLITE_OK or the error. */
int sky__tags_store(sqlite3 *db, int64_t gid, json_t *tags);

#endif
