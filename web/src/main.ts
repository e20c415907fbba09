// Entry point: the join screen, and switching between it and the room.

import "./style.css";
import { ChatSession } from "./chat";
import { byId } from "./dom";
import {
  forgetToken,
  guestAuth,
  nameError,
  rememberInRoom,
  resumeAuth,
  savedName,
  savedToken,
  tokenAuth,
  type Auth,
} from "./identity";

const joinScreen = byId("join-screen");
const chatScreen = byId("chat-screen");
const form = byId<HTMLFormElement>("join-form");
const nameInput = byId<HTMLInputElement>("join-name");
const tokenInput = byId<HTMLTextAreaElement>("join-token");
const guestFields = byId("guest-fields");
const tokenFields = byId("token-fields");
const errorBox = byId("join-error");
const lead = byId("join-lead");
const submit = byId<HTMLButtonElement>("join-submit");
const modeButton = byId<HTMLButtonElement>("join-mode");
const leaveButton = byId<HTMLButtonElement>("leave");

let session: ChatSession | null = null;
let tokenMode = false;

/** Errors that mean the server wants a token rather than a guest name. */
const TOKEN_HINT = /token|jwt|auth|unauthori[sz]ed|sign[ -]?in|log[ -]?in/i;

function setTokenMode(on: boolean): void {
  tokenMode = on;
  tokenFields.hidden = !on;
  guestFields.hidden = on;
  nameInput.required = !on;
  tokenInput.required = on;
  modeButton.textContent = on ? "Join as a guest instead" : "Use an access token instead";
  lead.textContent = on ? "One room, everyone in it. Sign in with your access token." : "One room, everyone in it. Pick a name to join.";
}

function showError(message: string): void {
  errorBox.textContent = message;
}

function setBusy(busy: boolean): void {
  submit.disabled = busy;
  submit.textContent = busy ? "Joining…" : "Join chat";
  form.setAttribute("aria-busy", String(busy));
}

function showJoin(): void {
  chatScreen.hidden = true;
  joinScreen.hidden = false;
  setBusy(false);
  (tokenMode ? tokenInput : nameInput).focus();
}

function showChat(focus: boolean): void {
  joinScreen.hidden = true;
  chatScreen.hidden = false;
  showError("");
  if (focus) session?.focusComposer();
}

function authFromForm(): Auth | null {
  if (tokenMode) {
    if (!tokenInput.value.trim()) {
      showError("Paste your access token.");
      tokenInput.focus();
      return null;
    }
    return tokenAuth(tokenInput.value);
  }
  const problem = nameError(nameInput.value);
  if (problem) {
    showError(problem);
    nameInput.setAttribute("aria-invalid", "true");
    nameInput.focus();
    return null;
  }
  nameInput.removeAttribute("aria-invalid");
  return guestAuth(nameInput.value);
}

/** Joins with auth; resumed: the room shows at once (a reload), without the join screen. */
function join(auth: Auth, resumed = false): void {
  session?.close();
  showError("");
  setBusy(true);
  const current: ChatSession = new ChatSession(auth, {
    connected() {
      rememberInRoom(true);
      if (chatScreen.hidden) showChat(true);
    },
    refused(message) {
      rememberInRoom(false);
      current.close();
      if (session === current) session = null;
      if ("token" in auth) forgetToken();
      // The server may allow only signed-in users: offer the token field.
      if (!tokenMode && TOKEN_HINT.test(message)) setTokenMode(true);
      showJoin();
      showError(message);
    },
    unreachable() {
      setBusy(false);
      showError("Cannot reach the chat server. Still trying…");
    },
  });
  session = current;
  if (resumed) showChat(false);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const auth = authFromForm();
  if (auth) join(auth);
});

// A token is one line: Enter in its box joins, as it does in the name field.
tokenInput.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});

modeButton.addEventListener("click", () => {
  setTokenMode(!tokenMode);
  showError("");
  (tokenMode ? tokenInput : nameInput).focus();
});

leaveButton.addEventListener("click", () => {
  rememberInRoom(false);
  session?.close();
  session = null;
  showJoin();
});

nameInput.value = savedName();
tokenInput.value = savedToken();
setTokenMode(tokenInput.value !== "");
const resume = resumeAuth();
if (resume) join(resume, true);
else showJoin();
