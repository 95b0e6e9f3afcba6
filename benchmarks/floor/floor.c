// trib-floor: the broker's own floor for a task runner — one request and one reply message per task,
// with nothing else. Plain librabbitmq (rabbitmq-c), synchronous, one connection per process.
//
//   trib-floor echo   URL QUEUE PREFETCH PERSISTENT     consume requests, publish replies, ack (manual)
//   trib-floor fanout URL QUEUE N PERSISTENT            publish N requests (window 1000), await N replies
//   trib-floor chain  URL QUEUE N PERSISTENT            N strictly sequential round trips
//
// fanout prints "tasks_per_s=<x>"; chain prints "p50_us=<x> p99_us=<y>". PERSISTENT is 0 or 1: with 1,
// requests and replies are persistent and the driver publishes with confirms.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

static void die(const char *what, amqp_rpc_reply_t reply) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
    fprintf(stderr, "trib-floor: %s failed (reply type %d, library error %s)\n", what, reply.reply_type,
            amqp_error_string2(reply.library_error));
    exit(1);
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static amqp_connection_state_t open_connection(const char *url_text) {
    struct amqp_connection_info info;
    char *url = strdup(url_text);
    if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) { fprintf(stderr, "trib-floor: bad URL\n"); exit(2); }
    if (info.vhost == NULL || info.vhost[0] == '\0') info.vhost = "/";  // as Tributary reads amqp://host/
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(socket, info.host, info.port) != AMQP_STATUS_OK) {
        fprintf(stderr, "trib-floor: cannot reach %s:%d\n", info.host, info.port);
        exit(1);
    }
    die("login", amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password));
    amqp_channel_open(conn, 1);
    die("channel.open", amqp_get_rpc_reply(conn));
    return conn;
}

static void declare_request_queue(amqp_connection_state_t conn, const char *queue) {
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, amqp_empty_table);
    die("queue.declare", amqp_get_rpc_reply(conn));
}

static int echo(const char *url, const char *queue, int prefetch, int persistent) {
    amqp_connection_state_t conn = open_connection(url);
    declare_request_queue(conn, queue);
    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    die("basic.qos", amqp_get_rpc_reply(conn));
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    die("basic.consume", amqp_get_rpc_reply(conn));
    fprintf(stderr, "echo ready\n");
    for (;;) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t r = amqp_consume_message(conn, &envelope, NULL, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
                amqp_frame_t frame;
                if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) return 1;
                continue;
            }
            return 0;  // connection closed: the runner is done
        }
        amqp_basic_properties_t props;
        props._flags = AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.correlation_id = envelope.message.properties.correlation_id;
        props.delivery_mode = persistent ? 2 : 1;
        amqp_basic_publish(conn, 1, amqp_empty_bytes, envelope.message.properties.reply_to, 0, 0, &props,
                           envelope.message.body);
        amqp_basic_ack(conn, 1, envelope.delivery_tag, 0);
        amqp_destroy_envelope(&envelope);
    }
}

typedef struct {
    amqp_connection_state_t conn;
    amqp_bytes_t reply_queue;
    const char *queue;
    int persistent;
} driver_t;

static driver_t open_driver(const char *url, const char *queue, int persistent) {
    driver_t d = {open_connection(url), amqp_empty_bytes, queue, persistent};
    declare_request_queue(d.conn, queue);
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(d.conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    die("reply queue.declare", amqp_get_rpc_reply(d.conn));
    d.reply_queue = amqp_bytes_malloc_dup(ok->queue);
    amqp_basic_consume(d.conn, 1, d.reply_queue, amqp_empty_bytes, 0, 1, 1, amqp_empty_table);
    die("reply basic.consume", amqp_get_rpc_reply(d.conn));
    if (persistent) {
        amqp_confirm_select(d.conn, 1);
        die("confirm.select", amqp_get_rpc_reply(d.conn));
    }
    return d;
}

static void send_request(driver_t *d, long id) {
    char correlation[32], body[32];
    snprintf(correlation, sizeof correlation, "%ld", id);
    snprintf(body, sizeof body, "%ld", id);
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.correlation_id = amqp_cstring_bytes(correlation);
    props.reply_to = d->reply_queue;
    props.delivery_mode = d->persistent ? 2 : 1;
    if (amqp_basic_publish(d->conn, 1, amqp_empty_bytes, amqp_cstring_bytes(d->queue), 0, 0, &props,
                           amqp_cstring_bytes(body)) != AMQP_STATUS_OK) {
        fprintf(stderr, "trib-floor: publish failed\n");
        exit(1);
    }
}

/// Waits for the next reply; publisher confirms that arrive meanwhile are read and skipped.
static void await_reply(driver_t *d) {
    for (;;) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(d->conn);
        amqp_rpc_reply_t r = amqp_consume_message(d->conn, &envelope, NULL, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            amqp_destroy_envelope(&envelope);
            return;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            amqp_frame_t frame;
            if (amqp_simple_wait_frame(d->conn, &frame) == AMQP_STATUS_OK) continue;
        }
        die("consume reply", r);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: trib-floor echo|fanout|chain URL QUEUE (PREFETCH|N) PERSISTENT\n");
        return 2;
    }
    const char *mode = argv[1], *url = argv[2], *queue = argv[3];
    long n = atol(argv[4]);
    int persistent = atoi(argv[5]);
    if (strcmp(mode, "echo") == 0) return echo(url, queue, (int)n, persistent);

    driver_t d = open_driver(url, queue, persistent);
    if (strcmp(mode, "fanout") == 0) {
        const long window = 1000;
        long sent = 0, received = 0;
        double start = now_us();
        while (received < n) {
            while (sent < n && sent - received < window) send_request(&d, sent++);
            await_reply(&d);
            received++;
        }
        double seconds = (now_us() - start) / 1e6;
        printf("tasks_per_s=%.1f\n", n / seconds);
    } else if (strcmp(mode, "chain") == 0) {
        double *latency = malloc(sizeof(double) * n);
        for (long i = 0; i < n; i++) {
            double start = now_us();
            send_request(&d, i);
            await_reply(&d);
            latency[i] = now_us() - start;
        }
        qsort(latency, n, sizeof(double), cmp_double);
        printf("p50_us=%.1f p99_us=%.1f\n", latency[n / 2], latency[(long)(n * 0.99)]);
    } else {
        fprintf(stderr, "trib-floor: unknown mode %s\n", mode);
        return 2;
    }
    amqp_connection_close(d.conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(d.conn);
    return 0;
}
