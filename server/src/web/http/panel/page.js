// The Delivery panel's only script. The relay draws the panel; this page
// asks for it every 10 s with the orders page's sign-in (this tab's
// sessionStorage, same origin) and puts it in place.
"use strict";
const panel = document.getElementById("panel");
const note = document.getElementById("note");
const say = (text) => { note.textContent = text; };

async function refresh() {
  const token = sessionStorage.getItem("orders.token");
  if (!token) {
    say("Sign in as an admin on the orders page, then open Delivery from there: this page uses that sign-in.");
    return;
  }
  try {
    const answer = await fetch("/api/admin/delivery", {
      headers: { Authorization: "Bearer " + token },
      cache: "no-store",
    });
    if (answer.ok) {
      panel.innerHTML = await answer.text();
      say("Updated at " + new Date().toLocaleTimeString() + ", every 10 s.");
    } else if (answer.status === 401) {
      say("Your sign-in has expired: open the orders page to sign in again.");
    } else if (answer.status === 403) {
      say("Only admins see the delivery panel.");
    } else {
      say("The relay answered " + answer.status + ": trying again in 10 s.");
    }
  } catch (_) {
    say("The relay cannot be reached: trying again in 10 s.");
  }
}

refresh();
setInterval(refresh, 10000);
