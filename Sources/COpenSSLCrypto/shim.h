// OpenSSL's libcrypto (Debian's libssl-dev, which librabbitmq-dev already depends on): Tributary
// takes its SHA-256 from here.
#include <openssl/evp.h>
