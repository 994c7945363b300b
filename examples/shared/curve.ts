/**
 * CURVE for the demo programs, from the environment. Unset: plaintext, as before. The rule: a program that binds
 * takes the server variables, a program that connects takes the client variables. Every file is a certificate in
 * the pyzmq/CZMQ format (`typed-zmq keygen NAME`, or pyzmq's `zmq.auth.create_certificates`).
 *
 * Server: CURVE_SERVER_CERT, the path to its secret certificate; CURVE_ALLOW_DIR, a directory of the allowed
 * clients' public certificates (the broker: for its frontend; CURVE_BACKEND_ALLOW_DIR for the servers that may join
 * its backend). Client: CURVE_CLIENT_CERT, its secret certificate; CURVE_SERVER_PUBLIC_CERT, the public certificate
 * of the server it connects to.
 */
import { readCertificate, type CurveOptions, type DeviceOptions, type RpcBrokerOptions } from "typed-zmq";
import { setting, type DemoOptions } from "./cli.js";

/** The `curve` option to spread into a class's options: `{}` when the variables are unset (plaintext). */
export interface CurveSetting {
  readonly curve?: CurveOptions;
}

/** Reads the named variables: all unset, or all set; one without the other is refused with what to set. */
function pair(options: DemoOptions, first: string, second: string): [string, string] | undefined {
  const a = setting(options, first, "");
  const b = setting(options, second, "");
  if (a === "" && b === "") return undefined;
  if (a === "" || b === "") {
    const [set, missing] = a === "" ? [second, first] : [first, second];
    throw new RangeError(`${set} is set but ${missing} is not: set both for CURVE, or neither for plaintext.`);
  }
  return [a, b];
}

/** A program that binds: CURVE_SERVER_CERT and `allowVariable` (default CURVE_ALLOW_DIR). */
export function serverCurve(options: DemoOptions, allowVariable = "CURVE_ALLOW_DIR"): CurveSetting {
  const found = pair(options, "CURVE_SERVER_CERT", allowVariable);
  if (found === undefined) return {};
  const [cert, dir] = found;
  return { curve: { certificate: readCertificate(cert), allow: { dir } } };
}

/** A program that connects: CURVE_CLIENT_CERT and CURVE_SERVER_PUBLIC_CERT. */
export function clientCurve(options: DemoOptions): CurveSetting {
  const found = pair(options, "CURVE_CLIENT_CERT", "CURVE_SERVER_PUBLIC_CERT");
  if (found === undefined) return {};
  const [cert, server] = found;
  return { curve: { certificate: readCertificate(cert), serverKey: readCertificate(server) } };
}

/**
 * The RPC broker (both faces bind): CURVE_SERVER_CERT for both faces, CURVE_ALLOW_DIR for the frontend's clients,
 * CURVE_BACKEND_ALLOW_DIR for the servers that may join the backend (each face its own list). All three, or none.
 */
export function brokerCurve(options: DemoOptions): Pick<RpcBrokerOptions, "curve" | "frontendAllow" | "backendAllow"> {
  const front = serverCurve(options);
  const back = serverCurve(options, "CURVE_BACKEND_ALLOW_DIR"); // each refuses a half-set pair: both set, or neither
  if (front.curve?.certificate === undefined || front.curve.allow === undefined || back.curve?.allow === undefined) return {};
  return { curve: { certificate: front.curve.certificate }, frontendAllow: front.curve.allow, backendAllow: back.curve.allow };
}

/**
 * The pub-sub forwarder and the pipeline streamer (both faces bind, one allow-list for both): CURVE_SERVER_CERT and
 * CURVE_ALLOW_DIR. CURVE_BACKEND_ALLOW_DIR is refused here rather than ignored.
 */
export function deviceCurve(options: DemoOptions, kind: string): Pick<DeviceOptions, "curve"> {
  if (setting(options, "CURVE_BACKEND_ALLOW_DIR", "") !== "") {
    throw new RangeError(
      `CURVE_BACKEND_ALLOW_DIR is set, but the ${kind} device has one allow-list for both faces: put every allowed peer's public certificate in CURVE_ALLOW_DIR and unset CURVE_BACKEND_ALLOW_DIR.`,
    );
  }
  return serverCurve(options);
}

/** One line for the program's log: what protects its sockets. */
export function describeCurve(
  setting: CurveSetting | Pick<RpcBrokerOptions, "curve" | "frontendAllow" | "backendAllow">,
): string {
  const curve = setting.curve;
  if (curve === undefined) return "plaintext (no CURVE_* variables)";
  if ("serverKey" in curve) return "CURVE client";
  const lists =
    "frontendAllow" in setting ? [setting.frontendAllow, setting.backendAllow] : ["allow" in curve ? curve.allow : undefined];
  const names = lists.map((allow) =>
    allow !== undefined && typeof allow === "object" && "dir" in allow ? allow.dir : "listed keys",
  );
  return `CURVE server, allowing the clients listed in ${names.join(" (frontend) and ")}${names.length > 1 ? " (backend)" : ""}`;
}
