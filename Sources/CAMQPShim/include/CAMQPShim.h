#ifndef TRIB_CAMQP_SHIM_H
#define TRIB_CAMQP_SHIM_H

// What Swift cannot reach in rabbitmq-c directly: the variadic amqp_login_with_properties, and the method and
// property-flag macros (they are casts and shifts, which Swift does not import).

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#endif

/// Logs in with SASL PLAIN, sending client properties (such as connection_name). Wraps the
/// variadic amqp_login_with_properties.
amqp_rpc_reply_t trib_amqp_login_plain_with_properties(amqp_connection_state_t state, const char *vhost,
                                                       int channel_max, int frame_max, int heartbeat,
                                                       const amqp_table_t *properties, const char *user,
                                                       const char *password);

/// Method ids of the frames the connection loop dispatches on.
enum {
    TRIB_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD,
    TRIB_CONNECTION_CLOSE_OK = AMQP_CONNECTION_CLOSE_OK_METHOD,
    TRIB_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD,
    TRIB_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD,
    TRIB_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD,
    TRIB_CHANNEL_CLOSE_OK = AMQP_CHANNEL_CLOSE_OK_METHOD,
    TRIB_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD,
    TRIB_BASIC_ACK = AMQP_BASIC_ACK_METHOD,
    TRIB_BASIC_NACK = AMQP_BASIC_NACK_METHOD,
    TRIB_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD,
    TRIB_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD,
    TRIB_BASIC_CANCEL_OK = AMQP_BASIC_CANCEL_OK_METHOD,
    TRIB_BASIC_GET_OK = AMQP_BASIC_GET_OK_METHOD,
};

/// Property flags of amqp_basic_properties_t._flags.
enum {
    TRIB_FLAG_CONTENT_TYPE = AMQP_BASIC_CONTENT_TYPE_FLAG,
    TRIB_FLAG_HEADERS = AMQP_BASIC_HEADERS_FLAG,
    TRIB_FLAG_DELIVERY_MODE = AMQP_BASIC_DELIVERY_MODE_FLAG,
    TRIB_FLAG_CORRELATION_ID = AMQP_BASIC_CORRELATION_ID_FLAG,
    TRIB_FLAG_REPLY_TO = AMQP_BASIC_REPLY_TO_FLAG,
    TRIB_FLAG_EXPIRATION = AMQP_BASIC_EXPIRATION_FLAG,
    TRIB_FLAG_MESSAGE_ID = AMQP_BASIC_MESSAGE_ID_FLAG,
    TRIB_FLAG_TIMESTAMP = AMQP_BASIC_TIMESTAMP_FLAG,
    TRIB_FLAG_TYPE = AMQP_BASIC_TYPE_FLAG,
};

#endif
