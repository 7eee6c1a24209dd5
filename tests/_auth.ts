// Throwaway credentials for auth tests: a private CA with server and client
// certificates (openssl), nkeys, and an operator / account / user JWT chain
// signed with ed25519 nkeys (a JWT is base64url JSON; no nsc needed).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nkeys } from "@nats-io/nats-core/internal";

/** A CA and certificates signed by it, as files in `dir`. */
export interface Certificates {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  /** A client certificate signed by the CA. */
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA (the server refuses it). */
  strangerCert: string;
  strangerKey: string;
}

/**
 * A throwaway CA, a server certificate whose SANs are `san` (default: the IP
 * 127.0.0.1 and localhost), and client certificates.
 */
export function makeCertificates(
  san = "IP:127.0.0.1,DNS:localhost",
): Certificates {
  const dir = mkdtempSync(join(tmpdir(), "walnats-tls-"));
  const run = (...args: string[]) =>
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const ca = (name: string) =>
    run(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=walnats test ${name}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
    );
  const leaf = (name: string, cn: string, caName: string, ext: string) => {
    run(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    );
    writeFileSync(join(dir, `${name}.cnf`), `${ext}\n`);
    run(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${caName}.pem`,
      "-CAkey",
      `${caName}.key`,
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${name}.cnf`,
      "-out",
      `${name}.pem`,
    );
  };
  ca("ca");
  ca("other-ca");
  // The CN is not a name the client could match: only the SANs count.
  leaf("server", "walnats test server", "ca", `subjectAltName=${san}`);
  leaf("client", "walnats client", "ca", "extendedKeyUsage=clientAuth");
  leaf(
    "stranger",
    "walnats stranger",
    "other-ca",
    "extendedKeyUsage=clientAuth",
  );
  const at = (f: string) => join(dir, f);
  return {
    dir,
    ca: at("ca.pem"),
    cert: at("server.pem"),
    key: at("server.key"),
    clientCert: at("client.pem"),
    clientKey: at("client.key"),
    strangerCert: at("stranger.pem"),
    strangerKey: at("stranger.key"),
  };
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return [...bytes].map((b) => BASE32[b % 32]).join("");
}

type KeyPair = ReturnType<typeof nkeys.createUser>;

/** A NATS JWT: claims about `subject`, signed by `issuer`. */
export function signJwt(
  issuer: KeyPair,
  subject: string,
  name: string,
  nats: Record<string, unknown>,
): string {
  const header = base64url(
    encoder.encode(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })),
  );
  const claims = {
    jti: randomId(),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = issuer.sign(encoder.encode(`${header}.${payload}`));
  return `${header}.${payload}.${base64url(signature)}`;
}

const NO_LIMITS = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/** A creds file's text: the user's JWT and seed. */
export function credsFile(jwt: string, seed: Uint8Array): string {
  return [
    "-----BEGIN NATS USER JWT-----",
    jwt,
    "------END NATS USER JWT------",
    "",
    "-----BEGIN USER NKEY SEED-----",
    new TextDecoder().decode(seed),
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
}

/** An operator with one account and a user of it, and a stranger's creds. */
export interface OperatorSetup {
  /** nats-server configuration text (operator mode, memory resolver). */
  config: string;
  /** Creds of a user of the account. */
  creds: string;
  /** Creds of a user signed by an account the server does not know. */
  strangerCreds: string;
}

/** Operator-mode configuration and creds, made with nkeys alone. */
export function makeOperator(): OperatorSetup {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const system = nkeys.createAccount();
  const user = nkeys.createUser();
  const strangerAccount = nkeys.createAccount();
  const stranger = nkeys.createUser();
  const operatorJwt = signJwt(operator, operator.getPublicKey(), "walnats", {
    type: "operator",
    system_account: system.getPublicKey(),
  });
  const accountClaims = {
    type: "account",
    limits: {
      ...NO_LIMITS,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    },
    default_permissions: { pub: {}, sub: {} },
  };
  const accountJwt = signJwt(
    operator,
    account.getPublicKey(),
    "app",
    accountClaims,
  );
  const systemJwt = signJwt(operator, system.getPublicKey(), "SYS", {
    type: "account",
    limits: NO_LIMITS,
    default_permissions: { pub: {}, sub: {} },
  });
  const userClaims = {
    type: "user",
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
  };
  const userJwt = signJwt(account, user.getPublicKey(), "app-user", userClaims);
  const strangerJwt = signJwt(
    strangerAccount,
    stranger.getPublicKey(),
    "stranger",
    userClaims,
  );
  const config = [
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    "resolver: MEMORY",
    "resolver_preload: {",
    `  ${account.getPublicKey()}: ${accountJwt}`,
    `  ${system.getPublicKey()}: ${systemJwt}`,
    "}",
  ].join("\n");
  return {
    config,
    creds: credsFile(userJwt, user.getSeed()),
    strangerCreds: credsFile(strangerJwt, stranger.getSeed()),
  };
}

/** An nkey user: the config line for the server and the seed for the client. */
export function makeNkeyUser(): { publicKey: string; seed: Uint8Array } {
  const user = nkeys.createUser();
  return { publicKey: user.getPublicKey(), seed: user.getSeed() };
}
