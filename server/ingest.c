#include "ingest.h"
void sky__ingest_handle(const sky__request *req, sky__reply *r)
{
    (void)req;
    sky__reply_error(r, SKY__API_INGEST, 400, "x", "not yet");
}
