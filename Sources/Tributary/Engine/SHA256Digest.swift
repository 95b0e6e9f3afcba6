import COpenSSLCrypto

/// SHA-256 from OpenSSL's libcrypto, which librabbitmq already links: the run journal's ids and the
/// cache's keys.
enum SHA256Digest {
    /// The 32-byte SHA-256 of `bytes`.
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let succeeded = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        // EVP_Digest fails only when OpenSSL cannot allocate its context: nothing to go on with.
        precondition(succeeded == 1 && length == 32, "OpenSSL's SHA-256 failed")
        return Array(digest.prefix(32))
    }

    /// The SHA-256 of `bytes` in lowercase hex, its first `count` bytes (all 32 by default).
    static func hex(_ bytes: [UInt8], prefix count: Int = 32) -> String {
        hash(bytes).prefix(count).map { String(format: "%02x", $0) }.joined()
    }
}
