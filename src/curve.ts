/**
 * @packageDocumentation
 * The `curve` option of every pattern class (and both faces of a broker or device): CURVE encryption and
 * authentication (RFC 26, libzmq's `ZMQ_CURVE_*`), with a ZAP allow-list (RFC 27) on the server side.
 *
 * The role follows from the options: with `serverKey` the socket is a CURVE **client** of that server; without it,
 * a CURVE **server**, which must say who may connect (`allow`, or a `zapDomain` configured on an `Authenticator`).
 * CURVE does not apply to `inproc://` (no wire) nor to `pgm://`/`epgm://` (libzmq does not run a handshake there):
 * such an endpoint is refused, never used in plaintext.
 */

/** The keys of one side, as a certificate carries them (`readCertificate`, `generateCertificate`). */
export interface CurveCertificate {
  /** Z85 public key, 40 characters. */
  readonly publicKey: string;
  /** Z85 secret key, 40 characters; absent in a public certificate. */
  readonly secretKey?: string;
}

/**
 * Who may connect to a CURVE server: Z85 client public keys, a directory of public certificates (pyzmq's
 * `name.key` or CZMQ's `name`; secret ones are ignored; reloaded when it changes), or `"any"`: encryption
 * without authentication, said explicitly.
 */
export type CurveAllow = readonly string[] | { readonly dir: string } | "any";

/**
 * CURVE settings of one socket (or of a broker's or device's two faces).
 *
 * Server: `{ certificate: serverSecretCert, allow: [clientPublicKey] }` (or `secretKey` instead of
 * `certificate`). Client: `{ certificate: clientSecretCert, serverKey: serverPublicKey }` (or `publicKey` and
 * `secretKey`). Keys are the 40-character Z85 strings of `zmq.curveKeyPair()` and of pyzmq/CZMQ certificates.
 */
export interface CurveOptions {
  /** This side's keys: a certificate holding its secret key. Either this or `secretKey` (plus `publicKey` for a client). */
  readonly certificate?: CurveCertificate;
  /** This side's Z85 secret key (instead of `certificate`). */
  readonly secretKey?: string;
  /** This side's Z85 public key (instead of `certificate`); a client needs it, a server does not. */
  readonly publicKey?: string;
  /** Present: this socket is a CURVE client of the server with this public key (Z85, or its public certificate). */
  readonly serverKey?: string | CurveCertificate;
  /**
   * Server role: who may connect. Required unless `zapDomain` is given: a server never runs open by accident.
   * The object registers a ZAP domain of its own on the shared `Authenticator`, and releases it on `close()`.
   */
  readonly allow?: CurveAllow;
  /**
   * Server role, instead of `allow`: the ZAP domain of this socket, whose policy you configure yourself on an
   * `Authenticator` (`Authenticator.shared().configure(domain, policy)`). A connection to a domain nobody
   * configured is refused (`ZMQ_ZAP_ENFORCE_DOMAIN`).
   */
  readonly zapDomain?: string;
}
