// libpq, PostgreSQL's own client library (Debian's libpq-dev): the server's store on PostgreSQL.
#include <libpq-fe.h>
