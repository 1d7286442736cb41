// Showing times, durations and counts the way a person reads them.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = typeof value === "number" ? new Date(value) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "3 minutes ago", "in 12 seconds"; "–" for nothing. */
export function ago(value, now = Date.now()) {
  const date = toDate(value);
  if (!date) return "–";
  const seconds = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

/** A full local date and time, for tooltips and detail panes. */
export function when(value) {
  const date = toDate(value);
  return date ? dateTime.format(date) : "–";
}

/** A local time of day, for log lines. */
export function timeOfDay(value) {
  const date = toDate(value);
  return date ? clock.format(date) : "";
}

/** "1.2 s", "3 min 4 s", "2 h 5 min" between two times (the second defaults to now). */
export function duration(start, end = null) {
  const from = toDate(start);
  if (!from) return "–";
  const to = toDate(end) || new Date();
  let seconds = Math.max(0, (to.getTime() - from.getTime()) / 1000);
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  seconds = Math.round(seconds);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** A <time> element showing `ago(value)` with the full date as its tooltip. */
export function timeElement(value, text = null) {
  const el = document.createElement("time");
  const date = toDate(value);
  if (date) {
    el.dateTime = date.toISOString();
    el.title = when(date);
  }
  el.textContent = text ?? ago(value);
  return el;
}
