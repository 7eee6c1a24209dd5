// The other pages: schedules, the live feed's shell, and the architecture of
// a Services (the actor page and the dead-letter pages have their own
// files). Everything shown from the server or the wire goes through `html`,
// which escapes it.
import type { Schedule } from "../ops/schedules.ts";
import type { Services } from "../services/services.ts";
import { type Html, html } from "./_html.ts";
import { href, num, type PageContext } from "./_layout.ts";

/** The stored schedules. */
export function schedulesPage(
  ctx: PageContext,
  schedules: (Schedule & { error?: string })[],
): Html {
  void ctx;
  if (schedules.length === 0) {
    return html`
      <p
        class="muted">No schedules in the <code>walnats_schedules</code> bucket. Add one with <code>walnats schedules add</code> or <code>upsertSchedule()</code>.</p>
    `;
  }
  return html`
    <p>Schedules live in the NATS KV bucket <code>walnats_schedules</code>; a listener that runs schedules emits the event on each tick.</p>
    <div class="scroll">
      <table class="grid" id="schedules">
        <caption class="sr">Durable schedules</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Event</th>
            <th scope="col">When</th>
            <th scope="col">Time zone</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>${schedules.map((s) =>
          html`<tr data-schedule="${s.id}">
<th scope="row">${s.id}</th>
${
            s.error !== undefined
              ? html`<td colspan="4" class="bad">${s.error}</td>`
              : html`<td>${s.event}</td>
<td>${
                s.cron !== undefined
                  ? html`cron <code>${s.cron}</code>`
                  : `every ${num(s.every ?? 0)} ms`
              }</td>
<td>${s.timeZone ?? "UTC"}</td>
<td><code>${
                s.message === undefined
                  ? "–"
                  : JSON.stringify(s.message)
              }</code></td>`
          }
</tr>`
        )}</tbody>
      </table>
    </div>
  `;
}

/** The live feed's shell; the script fills it from `/api/feed`. */
export function feedPage(ctx: PageContext, events: string[]): Html {
  return html`
    <p>Messages as they are emitted (a core subscription: nothing is taken from the actors, nothing is stored). The newest is on top; at most 200 are kept on the page.</p>
    <form class="filter" id="feed-controls">
      <label for="feed-filter">Event</label>
      <select id="feed-filter">
    <option value="">all events</option>
    ${events.map((e) => html`<option value="${e}">${e}</option>`)}
      </select>
      <label><input type="checkbox" id="feed-pause"> Pause</label>
      <button type="button" id="feed-clear">Clear</button>
    </form>
    <p id="feed-state" role="status">Connecting…</p>
    <ol id="feed" class="feed" data-source="${href(ctx, "/api/feed")}"
      aria-label="Emitted messages, newest first"></ol>
  `;
}

/** The architecture: who emits and handles what, Mermaid, AsyncAPI. */
export function architecturePage(
  ctx: PageContext,
  services: Services,
  asyncapi: unknown,
): Html {
  const events = new Map<
    string,
    { emitters: string[]; handlers: string[] }
  >();
  const entry = (name: string) => {
    let e = events.get(name);
    if (e === undefined) events.set(name, e = { emitters: [], handlers: [] });
    return e;
  };
  for (const s of services.services) {
    for (const e of s.emits) entry(e.name).emitters.push(s.name);
    for (const a of s.actors) {
      entry(a.event.name).handlers.push(`${a.name} (${s.name})`);
    }
  }
  const rows = [...events].sort(([a], [b]) => a < b ? -1 : 1).map((
    [name, e],
  ) =>
    html`
      <tr>
        <th scope="row">${name}</th>
        <td>${e.emitters.length === 0
          ? html`<span class="muted">external</span>`
          : e.emitters.join(", ")}</td>
        <td>${e.handlers.join(", ")}</td>
      </tr>
    `
  );
  return html`
    <table class="grid" id="flows">
      <caption class="sr">Who emits and who handles each event</caption>
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Emitted by</th>
          <th scope="col">Handled by (service)</th>
        </tr>
      </thead>
      <tbody>${rows}</tbody>
    </table>
    <h2>Mermaid diagram</h2>
    <p
      class="muted">Paste into any Mermaid renderer (nothing is loaded from the network here).</p>
    <pre class="box" id="mermaid">${services.mermaid()}</pre>
    <h2>AsyncAPI 3 document</h2>
    <p><a href="${href(
      ctx,
      "/api/asyncapi.json",
    )}" download="asyncapi.json">Download asyncapi.json</a></p>
    <pre class="box" id="asyncapi">${JSON.stringify(asyncapi, null, 2)}</pre>
  `;
}
