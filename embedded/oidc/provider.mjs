// The embedded stack's OpenID Connect provider (development and tests only).
//
// A real, certified implementation (the npm package oidc-provider) stands in for ProConnect:
// authorization code flow, PKCE required, state and nonce returned as the protocol says. Its
// development login form signs in ANY address typed in it (the password is ignored): the API
// still only lets in an address that belongs to an existing, enabled staff account.
//
// Configured by environment variables (python -m embedded.oidc serve sets them from Settings):
//   OIDC_PORT, OIDC_HOST           where it listens
//   OIDC_ISSUER                    its issuer URL (http://127.0.0.1:<port> by default)
//   OIDC_CLIENT_ID                 the one client (the API)
//   OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URIS             space-separated redirect URIs of that client
//
// An address whose local part ends with "+non-verifie" is answered with email_verified=false,
// so that the API's refusal of an unverified address can be tried.
import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    if (fallback === undefined) {
      console.error(`missing environment variable ${name}`);
      process.exit(2);
    }
    return fallback;
  }
  return value;
};

const host = env('OIDC_HOST', '127.0.0.1');
const port = Number(env('OIDC_PORT', '9090'));
const issuer = env('OIDC_ISSUER', `http://${host}:${port}`);
const clientId = env('OIDC_CLIENT_ID');
const clientSecret = env('OIDC_CLIENT_SECRET');
const redirectUris = env('OIDC_REDIRECT_URIS').split(/\s+/).filter(Boolean);

const UNVERIFIED = /\+non-verifie@/i;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  // Every client, confidential or not, must send a PKCE challenge (S256 is the only method).
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'email'],
  // The development login form (any login) and consent form.
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: !UNVERIFIED.test(id) };
      },
    };
  },
  // Fixed cookie keys: the provider is for development only, and a restart keeps sessions.
  cookies: { keys: ['secupol-embedded-oidc-development-only'] },
});

const server = provider.listen(port, host, () => {
  console.log(`OIDC provider (development) listening on ${host}:${port}, issuer ${issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
