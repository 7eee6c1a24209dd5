// The few parts of the `Deno` global the Deno transport uses, declared here
// so that the package type-checks with plain `tsc` in a Node or Bun project
// (where `Deno` is not declared) as well as with `deno check`. At run time
// this is the real `Deno` namespace; the module is loaded only on Deno.

/** A TCP or TLS connection (`Deno.Conn`). */
export interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  close(): void;
}

/** `Deno.TcpConn`. */
export interface DenoTcpConn extends DenoConn {
  setNoDelay(noDelay?: boolean): void;
}

/** `Deno.TlsConn`. */
export interface DenoTlsConn extends DenoConn {
  handshake(): Promise<unknown>;
}

/** What the transport calls on `Deno`. */
export interface DenoApi {
  connect(options: { hostname: string; port: number }): Promise<DenoTcpConn>;
  connectTls(options: {
    hostname: string;
    port: number;
    caCerts?: string[];
    cert?: string;
    key?: string;
  }): Promise<DenoTlsConn>;
  startTls(
    conn: DenoTcpConn,
    options: { hostname: string; caCerts?: string[] },
  ): Promise<DenoTlsConn>;
  readTextFile(path: string): Promise<string>;
  env: { get(name: string): string | undefined };
  errors: { ConnectionRefused: new (...args: never[]) => Error };
}

/** The `Deno` namespace; throws when not running on Deno. */
export function deno(): DenoApi {
  const api = (globalThis as { Deno?: DenoApi }).Deno;
  if (api === undefined) {
    throw new TypeError(
      "The Deno transport runs only on Deno; use @walnats/walnats/node or /bun, or the root connect()",
    );
  }
  return api;
}
