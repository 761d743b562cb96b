// Sign-in for the hosted dashboard (loaded only there, before app.js).
//
// Cognito's managed login with the authorization code flow and PKCE, for a public
// client (no secret can live in a page). Where things are kept, and why:
// - tokens: in this closure only. Not localStorage/sessionStorage, where any script
//   injected into the origin could read them long after; a reload simply signs in
//   again, silently, because Cognito's own session cookie (on its domain) answers
//   /oauth2/authorize with a new code and no form while it is valid.
// - PKCE verifier, state and the page's own URL: sessionStorage for the one redirect
//   round trip (this tab only), removed as soon as the code is exchanged.
// - the code and state leave the address bar (history.replaceState) before app.js runs.
// No refresh token is used: an access token lasts an hour, and an expired one (or a
// 401 from the API) sends the page back through the same silent redirect.
//
// Contract with app.js: window.ownstatsAuth = { ready, headers(), expired(), signOut() }.
(function () {
  "use strict";

  const CONFIG_URL = "/_dash/hosted-config.json";
  const PENDING = "ownstats.auth.pending";
  //: a token this close to its expiry is treated as expired (clock skew, slow requests)
  const EXPIRY_MARGIN_MS = 60 * 1000;

  let accessToken = null;
  let expiresAt = 0;
  let config = null;
  let leaving = false;

  const never = new Promise(() => {});

  function base64url(bytes) {
    let text = "";
    for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString() {
    return base64url(crypto.getRandomValues(new Uint8Array(32)));
  }

  async function loadConfig() {
    const response = await fetch(CONFIG_URL, { cache: "no-store" });
    if (!response.ok) throw new Error(`sign-in settings missing (${response.status})`);
    return response.json();
  }

  async function signIn() {
    if (leaving) return never;
    leaving = true;
    const verifier = randomString();
    const state = randomString();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    sessionStorage.setItem(PENDING, JSON.stringify({
      verifier, state, back: location.pathname + location.search + location.hash,
    }));
    const url = new URL("/oauth2/authorize", config.authority);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: config.clientId,
      redirect_uri: config.redirectUri,
      scope: config.scopes || "openid email",
      state,
      code_challenge: base64url(digest),
      code_challenge_method: "S256",
    }).toString();
    location.assign(url.toString());
    return never;
  }

  async function exchange(code, pending) {
    const response = await fetch(new URL("/oauth2/token", config.authority), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: config.clientId,
        code,
        redirect_uri: config.redirectUri,
        code_verifier: pending.verifier,
      }),
    });
    if (!response.ok) throw new Error(`the sign-in service refused the code (${response.status})`);
    const tokens = await response.json();
    if (!tokens.access_token) throw new Error("the sign-in service sent no access token");
    accessToken = tokens.access_token;
    const lifetime = Number(tokens.expires_in || 3600) * 1000;
    // renew a little early, but never so early that a short-lived token is born expired
    expiresAt = Date.now() + lifetime - Math.min(EXPIRY_MARGIN_MS, lifetime / 2);
  }

  // RFC 6749 section 4.1.2.1: the codes an authorization server answers with
  const SIGN_IN_ERRORS = {
    access_denied: "access was denied",
    invalid_request: "the sign-in request was refused",
    unauthorized_client: "this dashboard may not sign in here",
    unsupported_response_type: "the sign-in request was refused",
    invalid_scope: "the sign-in request was refused",
    server_error: "the sign-in service failed",
    temporarily_unavailable: "the sign-in service is busy; try again in a moment",
  };

  function showProblem(message) {
    // a message and a way out, never a sign-in loop
    const box = document.getElementById("error");
    const text = `Sign-in failed: ${message}. `;
    if (box) {
      box.textContent = text;
      const again = document.createElement("button");
      again.type = "button";
      again.className = "btn";
      again.textContent = "Sign in again";
      again.addEventListener("click", () => { leaving = false; signIn(); });
      box.append(again);
      box.hidden = false;
    } else {
      alert(text);
    }
  }

  function addSignOutButton() {
    const row = document.querySelector("header .top-row") || document.querySelector("header");
    if (!row || document.getElementById("sign-out")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.id = "sign-out";
    button.className = "btn sign-out";
    button.textContent = "Sign out";
    button.addEventListener("click", () => window.ownstatsAuth.signOut());
    row.append(button);
  }

  async function start() {
    config = await loadConfig();
    const params = new URLSearchParams(location.search);
    const code = params.get("code");
    const raw = sessionStorage.getItem(PENDING);
    const pending = raw ? JSON.parse(raw) : null;
    // a callback carries state plus code or error; any other URL is the app's own
    if (!params.has("state") || (!code && !params.has("error"))) return signIn();
    sessionStorage.removeItem(PENDING);
    // the code (single use anyway) leaves the address bar and the history at once
    history.replaceState(null, "", pending && pending.back ? pending.back : "/");
    if (!pending || pending.state !== params.get("state")) {
      // not the answer to our own request (an old tab, a forged link): start over,
      // before anything of it is shown
      leaving = false;
      return signIn();
    }
    if (params.get("error")) {
      // a fixed text per OAuth error code: error_description is whatever the link said
      throw new Error(SIGN_IN_ERRORS[params.get("error")] || SIGN_IN_ERRORS.server_error);
    }
    await exchange(code, pending);
    addSignOutButton();
  }

  const ready = start().catch((error) => {
    showProblem(error.message || String(error));
    return never;
  });

  window.ownstatsAuth = {
    ready,
    async headers() {
      await ready;
      if (!accessToken || Date.now() > expiresAt) {
        window.ownstatsAuth.expired();
        return never;
      }
      return { Authorization: `Bearer ${accessToken}` };
    },
    expired() {
      accessToken = null;
      if (config) signIn();
    },
    signOut() {
      accessToken = null;
      sessionStorage.removeItem(PENDING);
      leaving = true;
      const url = new URL("/logout", config.authority);
      url.search = new URLSearchParams({
        client_id: config.clientId, logout_uri: config.redirectUri,
      }).toString();
      location.assign(url.toString());
    },
  };
})();
