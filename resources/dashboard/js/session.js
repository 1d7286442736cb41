// The dashboard's credential: a random session the instance gives in exchange for a one-time sign-in code.
//
// It is never a cookie, because a browser sends the cookies of 127.0.0.1 to every port on it. It lives in this
// origin's localStorage, which no page of another scheme, host or port can read, so every tab of this dashboard
// shares it (and "Sign out everywhere" or twelve idle hours end it for all of them). It travels only inside the
// WebSocket handshake, as a subprotocol value beside PROTOCOL; the server never echoes it back.

// Shared with app/murmuration/sessions.py (a test keeps the two in step).
export const PROTOCOL = "murmuration.v1";
export const SESSION_PREFIX = "murmuration.session.";
export const CLOSE_SIGNED_OUT = 4001;

const STORAGE_KEY = "murmuration.session";

/** The stored session, or null (also when storage is off). */
export function storedSession() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function store(session) {
  localStorage.setItem(STORAGE_KEY, session);
}

/** Forget the stored session, in every tab of this origin. */
export function forgetSession() {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage is off: there was nothing to forget.
  }
}

/** The subprotocols to offer when opening the socket. */
export function socketProtocols() {
  const session = storedSession();
  return session ? [PROTOCOL, SESSION_PREFIX + session] : [PROTOCOL];
}

/**
 * At /login?code=…: take the code out of the address at once, then trade it for a session.
 * Resolves "signed-in", "refused" (a wrong, used or expired code), "unreachable", "no-storage" (the browser
 * blocks this site's storage), or null when this is no sign-in.
 */
export async function redeemSignInCode() {
  if (location.pathname !== "/login") return null;
  const code = new URLSearchParams(location.search).get("code");
  // Before any wait: the code never stays in the address bar, the history or a bookmark.
  history.replaceState(null, "", "/" + location.hash);
  if (!code) return "refused";
  let answer;
  try {
    answer = await fetch("/session", { headers: { "Murmuration-Code": code }, cache: "no-store" });
  } catch {
    return "unreachable";
  }
  if (!answer.ok) return "refused";
  const { session } = await answer.json();
  try {
    store(session);
  } catch {
    return "no-storage";
  }
  return "signed-in";
}

/** Whether the server still knows this browser's session: true, false, or null when it cannot be asked. */
export async function sessionValid() {
  const session = storedSession();
  if (!session) return false;
  try {
    const answer = await fetch("/session", { headers: { "Murmuration-Session": session }, cache: "no-store" });
    if (answer.status === 401) return false;
    return answer.ok ? true : null;
  } catch {
    return null;
  }
}

/** Call `handler` when another tab of this origin signs in (stores a new session). */
export function onSignInElsewhere(handler) {
  window.addEventListener("storage", (event) => {
    if (event.key === STORAGE_KEY && event.newValue) handler();
  });
}
