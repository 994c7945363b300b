import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RpcClient, RpcServer, generateCertificate, readCertificate, writeCertificate } from "typed-zmq";
import { Greeter } from "./quick-start.js";

export async function main({ signal }: { signal?: AbortSignal } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "typed-zmq-certs-"));
  try {
    // Once: key pairs, written as pyzmq and CZMQ write them (or: npx typed-zmq keygen --out certs NAME).
    const server = writeCertificate(join(dir, "server"), "server", generateCertificate());
    const ada = writeCertificate(join(dir, "clients"), "ada", generateCertificate());

    // The server: its secret certificate, and who may connect (a directory of public certificates).
    await using rpc = await RpcServer.bind(
      "tcp://127.0.0.1:0",
      Greeter,
      { hello: ({ name }) => ({ greeting: `Hello, ${name}!` }) },
      { curve: { certificate: readCertificate(server.secretFile), allow: { dir: join(dir, "clients") } } },
    );

    // A client: its own key pair, and the server's public key.
    await using client = await RpcClient.connect(rpc.endpoint, Greeter, {
      timeoutMs: 2_000,
      curve: { certificate: readCertificate(ada.secretFile), serverKey: readCertificate(server.publicFile) },
    });
    const { greeting } = await client.call("hello", { name: "Ada" }, { signal });
    console.log(greeting); // Hello, Ada! (encrypted on the wire, and only listed clients get in)
    return greeting;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
