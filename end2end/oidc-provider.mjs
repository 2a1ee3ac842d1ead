// A real, certified OpenID Provider (the npm `oidc-provider` package) for the
// test suite and the browser journeys: one confidential client, PKCE
// required, its development login form (any login name and password; the
// account's email is `<login>@example.com`, verified).
//
//   node end2end/oidc-provider.mjs --port 4455 \
//     --client-id tenantry --client-secret s3cret \
//     --redirect-uri http://127.0.0.1:3000/sign-in/sso/callback \
//     [--issuer http://127.0.0.1:PROXY]
//
// Prints `OpenID Provider at http://127.0.0.1:PORT` once it listens.
import Provider from "oidc-provider";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const port = Number(arg("port", "4455"));
// The issuer may name a proxy in front of this port (tests that tamper).
const issuer = arg("issuer", `http://127.0.0.1:${port}`);
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: arg("client-id", "tenantry"),
      client_secret: arg("client-secret", "tenantry-test-secret"),
      redirect_uris: [arg("redirect-uri", "http://127.0.0.1:3000/sign-in/sso/callback")],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  pkce: { required: () => true },
  // Put the scopes' claims (email) in the ID token, as Entra does.
  conformIdTokenClaims: false,
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    async claims() {
      return { sub: id, email: `${id}@example.com`, email_verified: true, name: id };
    },
  }),
  features: { devInteractions: { enabled: true } },
  // Short-lived codes; an ID token for a minute is plenty for a test.
  ttl: { AuthorizationCode: 60, IdToken: 60, AccessToken: 60, Interaction: 300, Session: 600, Grant: 600 },
});
// The provider refuses plain http for anything but localhost; this is 127.0.0.1.
provider.listen(port, "127.0.0.1", () => {
  console.log(`OpenID Provider at ${issuer}`);
});
