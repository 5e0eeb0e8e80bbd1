/*
 * logs_fail.h - the failure shorthands of the CloudWatch Logs handlers (logs_api.c,
 * metric_filters.c, log_tags.c), written once. They expand in a handler that has the reply
 * `r`, the content type `CT`, the store `db` in scope and an `out:` label that releases what
 * it holds: each answers AWS's error shape and jumps there.
 */
#ifndef SKY_SERVER_LOGS_FAIL_H
#define SKY_SERVER_LOGS_FAIL_H

#include "reply.h"
#include "store.h"

#define FAIL_STATUS(status, type, ...)                                                   \
    do {                                                                                 \
        sky__reply_aws_error(r, status, CT, type, __VA_ARGS__);                          \
        goto out;                                                                        \
    } while (0)
#define INVALID(...) FAIL_STATUS(400, "InvalidParameterException", __VA_ARGS__)
/* The store failed: 500 ServiceUnavailableException, as AWS answers when it cannot complete a
 * request, which clients retry. After a rollback, the failure's own message. */
#define DB_FAIL()                                                                        \
    FAIL_STATUS(500, "ServiceUnavailableException", "store error: %s", sqlite3_errmsg(db))
#define DB_ROLLBACK_FAIL()                                                               \
    do {                                                                                 \
        char why_[256];                                                                  \
        sky__store_rollback(db, why_, sizeof why_);                                      \
        FAIL_STATUS(500, "ServiceUnavailableException", "store error: %s", why_);         \
    } while (0)

#endif
