// Cognito's own JSON API over fetch (no SDK): sign-up, confirmation, sign-in, refresh,
// sign-out. The session (tokens) lives in localStorage, so a reload keeps it.
import { config } from "./config.js";

const KEY = "bookish.session";

export class CognitoError extends Error {
  constructor(type, message) {
    super(message || type);
    this.type = type; // e.g. UsernameExistsException
  }
}

async function cognito(action, body) {
  const response = await fetch(config.cognitoEndpoint, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
    },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = String(data.__type || "UnknownError").split("#").pop();
    throw new CognitoError(type, data.message || data.Message);
  }
  return data;
}

function claims(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(part))));
}

function store(result, previous = {}) {
  const session = {
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    refreshToken: result.RefreshToken || previous.refreshToken, // a refresh returns none
  };
  const c = claims(session.idToken);
  session.expiresAt = c.exp * 1000;
  session.email = c.email || c["cognito:username"] || previous.email;
  session.groups = c["cognito:groups"] || [];
  localStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function session() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

export const isAdmin = () => (session()?.groups || []).includes("admin");

export function signUp(email, password) {
  return cognito("SignUp", {
    ClientId: config.userPoolClientId,
    Username: email,
    Password: password,
    UserAttributes: [{ Name: "email", Value: email }],
  });
}

export function confirmSignUp(email, code) {
  return cognito("ConfirmSignUp", { ClientId: config.userPoolClientId, Username: email, ConfirmationCode: code });
}

export function resendCode(email) {
  return cognito("ResendConfirmationCode", { ClientId: config.userPoolClientId, Username: email });
}

export async function signIn(email, password) {
  const data = await cognito("InitiateAuth", {
    ClientId: config.userPoolClientId,
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  if (!data.AuthenticationResult) throw new CognitoError(data.ChallengeName || "ChallengeRequired");
  const s = store(data.AuthenticationResult);
  s.email = email;
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

let refreshing = null;

/** New ID and access tokens from the refresh token (REFRESH_TOKEN_AUTH); null if it is gone. */
export function refresh() {
  const current = session();
  if (!current?.refreshToken) return Promise.resolve(null);
  refreshing ??= cognito("InitiateAuth", {
    ClientId: config.userPoolClientId,
    AuthFlow: "REFRESH_TOKEN_AUTH",
    AuthParameters: { REFRESH_TOKEN: current.refreshToken },
  })
    .then((data) => store(data.AuthenticationResult, current))
    .catch(() => {
      localStorage.removeItem(KEY);
      return null;
    })
    .finally(() => (refreshing = null));
  return refreshing;
}

/** A valid ID token (refreshed when it has under a minute left), or null when signed out. */
export async function idToken() {
  const current = session();
  if (!current) return null;
  if (current.expiresAt - Date.now() > 60_000) return current.idToken;
  return (await refresh())?.idToken ?? null;
}

export async function signOut() {
  const current = session();
  localStorage.removeItem(KEY);
  if (current?.accessToken) {
    // Ends every session of the user at Cognito; signed out locally either way.
    await cognito("GlobalSignOut", { AccessToken: current.accessToken }).catch(() => {});
  }
}
