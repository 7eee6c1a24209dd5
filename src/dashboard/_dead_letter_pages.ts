// The dead-letter pages: the index by event, one event's list, one dead
// letter in full (and the table the actor page shows too). Everything shown
// from the server or the wire goes through `html`, which escapes it.
import type { DeadLetter } from "../dead_letter.ts";
import type { Status } from "../ops/status.ts";
import { type Html, html } from "./_html.ts";
import { href, num, type PageContext, time } from "./_layout.ts";
import { pretty, show } from "./_payload.ts";

/** Bytes of a payload shown on a page. */
export const PAGE_PREVIEW = 64 * 1024;

/** One line of the dead-letter table. */
function letterRow(
  ctx: PageContext,
  letter: DeadLetter,
  withActions: boolean,
): Html {
  const iso = Number.isNaN(letter.time.getTime())
    ? null
    : letter.time.toISOString();
  const error = letter.error.length > 300
    ? `${letter.error.slice(0, 300)}…`
    : letter.error;
  const seq = letter.sequence;
  return html`<tr data-sequence="${seq}">
<th scope="row"><a href="${
    href(ctx, "/dead-letter", { event: letter.event, seq })
  }">#${seq}</a></th>
<td>${time(iso)}</td>
<td>${letter.actor}</td>
<td>${letter.reason}</td>
<td class="n">${num(letter.attempts)}</td>
<td class="error">${error}</td>
${
    withActions
      ? html`
        <td
          class="actions"><button type="button" id="replay:${seq}" data-action="replay" data-event="${letter
            .event}" data-sequence="${seq}">Replay<span class="sr"> #${seq}</span></button>
        <button type="button" class="danger" id="delete:${seq}" data-action="delete" data-event="${letter
          .event}" data-sequence="${seq}">Delete<span class="sr"> #${seq}</span></button></td>
      `
      : ""
  }
</tr>`;
}

export function letterTable(
  ctx: PageContext,
  letters: readonly DeadLetter[],
  caption: string,
): Html {
  const actions = !ctx.readOnly;
  return html`
    <div class="scroll">
      <table class="grid" id="dead-letters">
        <caption class="sr">${caption}</caption>
        <thead>
          <tr><th scope="col">Sequence</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Reason</th><th scope="col" class="n">Attempts</th><th scope="col">Error</th>${actions
            ? html`<th scope="col">Actions</th>`
            : ""}</tr>
        </thead>
        <tbody>${letters.map((l) => letterRow(ctx, l, actions))}</tbody>
      </table>
    </div>
  `;
}

/** The dead-letter index: events with their counts. */
export function deadLetterIndex(ctx: PageContext, status: Status): Html {
  const rows = status.events.map((e) => {
    const actors = status.actors.filter((a) =>
      a.event === e.name && a.deadLetters > 0
    );
    return html`
      <tr data-event="${e.name}">
        <th scope="row"><a href="${href(ctx, "/dead-letters", {
          event: e.name,
        })}">${e.name}</a></th>
        <td class="n" data-field="deadLetters">${num(e.deadLetters)}</td>
        <td>${actors.map((a, i) =>
          html`${i > 0 ? ", " : ""}<a href="${
            href(ctx, "/dead-letters", { event: e.name, actor: a.name })
          }">${a.name}</a> (${num(a.deadLetters)})`
        )}</td>
      </tr>
    `;
  });
  return html`<p>Dead letters are messages an actor gave up on: out of attempts, or a payload that does not decode. Replaying one emits it again to its event (every actor of the event receives it).</p>
${
    status.events.length === 0
      ? html`<p class="muted">No walnats events on the server.</p>`
      : html`
        <table class="grid" id="dead-letter-index">
          <caption class="sr">Dead letters by event</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col" class="n">Dead letters</th>
              <th scope="col">By actor</th>
            </tr>
          </thead>
          <tbody>${rows}</tbody>
        </table>
      `
  }`;
}

/** What the dead-letter list page shows. */
export interface DeadLetterListData {
  event: string;
  actor: string | undefined;
  /** The actors of the event (for the filter). */
  actors: string[];
  letters: DeadLetter[];
  /** Dead letters matching the filter in all. */
  total: number;
  /** The sequence of the next page, if there are more. */
  next: number | undefined;
}

/** One event's dead letters, a page at a time. */
export function deadLetterList(
  ctx: PageContext,
  data: DeadLetterListData,
): Html {
  const { event, actor } = data;
  const filter = html`
    <form class="filter" method="get" action="${href(ctx, "/dead-letters")}">
      <input type="hidden" name="event" value="${event}">
      <label for="actor-filter">Actor</label>
      <select id="actor-filter" name="actor">
    <option value=""${actor === undefined
      ? html`
        selected
      `
      : ""}>all actors</option>
    ${data.actors.map((a) =>
      html`
        <option value="${a}" ${a === actor
          ? html`
            selected
          `
          : ""}>${a}</option>
      `
    )}
      </select>
      <button type="submit">Show</button>
    </form>
  `;
  const bulk = ctx.readOnly || data.total === 0 ? "" : html`
    <p class="bulk">
      <button type="button" id="replay-all" data-action="replay-all"
        data-event="${event}" ${actor === undefined ? "" : html`
          data-actor="${actor}"
        `}
        data-total="${data.total}">Replay all ${num(data.total)}</button>
      <button type="button" class="danger" id="delete-all" data-action="delete-all"
        data-event="${event}" ${actor === undefined ? "" : html`
          data-actor="${actor}"
        `}
        data-total="${data.total}">Delete all ${num(data.total)}</button>
      <span id="progress" role="status"></span>
    </p>
  `;
  const shown = data.letters.length;
  return html`<p>Event <strong>${event}</strong>${
    actor === undefined ? "" : html`, actor <strong>${actor}</strong>`
  }: <span data-field="total">${num(data.total)}</span> dead letter(s)${
    shown < data.total ? `, ${num(shown)} shown` : ""
  }. <a href="${href(ctx, "/dead-letters")}">All events</a></p>
${filter}
${bulk}
${
    shown === 0
      ? html`<p class="muted" id="none">No dead letters.</p>`
      : letterTable(ctx, data.letters, `Dead letters of ${event}, oldest first`)
  }
${
    data.next === undefined
      ? ""
      : html`<p><a href="${
        href(ctx, "/dead-letters", { event, actor, from: data.next })
      }" rel="next">Next page</a></p>`
  }`;
}

/** One dead letter in full. */
export function deadLetterPage(ctx: PageContext, letter: DeadLetter): Html {
  const body = show(letter.data, PAGE_PREVIEW);
  const iso = Number.isNaN(letter.time.getTime())
    ? null
    : letter.time.toISOString();
  const headers = Object.entries(letter.headers);
  const seq = letter.sequence;
  return html`
    <dl class="facts">
      <div>
        <dt>Event</dt>
        <dd>${letter.event}</dd>
      </div>
      <div>
        <dt>Actor</dt>
        <dd><a href="${href(ctx, "/actor", {
          event: letter.event,
          name: letter.actor,
        })}">${letter.actor}</a></dd>
      </div>
      <div>
        <dt>Reason</dt>
        <dd>${letter.reason}</dd>
      </div>
      <div>
        <dt>Attempts</dt>
        <dd>${num(letter.attempts)}</dd>
      </div>
      <div>
        <dt>When</dt>
        <dd>${time(iso)}</dd>
      </div>
      <div>
        <dt>Original</dt>
        <dd>#${letter.originalSequence} on <code>${letter.subject}</code></dd>
      </div>
    </dl>
    ${ctx.readOnly ? "" : html`
      <p class="bulk">
        <button type="button" id="replay:${seq}" data-action="replay"
          data-event="${letter.event}" data-sequence="${seq}"
          data-then="${href(ctx, "/dead-letters", {
            event: letter.event,
          })}">Replay</button>
        <button type="button" class="danger" id="delete:${seq}"
          data-action="delete" data-event="${letter
            .event}" data-sequence="${seq}"
          data-then="${href(ctx, "/dead-letters", {
            event: letter.event,
          })}">Delete</button>
      </p>
    `}
    <h2>Error</h2>
    <pre class="box" id="error">${letter.error}</pre>
    ${letter.stack
      ? html`
        <h2>Stack</h2>
        <pre class="box" id="stack">${letter.stack}</pre>
      `
      : ""}
    <h2>Headers</h2>
    ${headers.length === 0 ? html`<p class="muted">None.</p>` : html`
      <table class="grid" id="headers">
        <caption class="sr">The original message's headers</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>${headers.map(([k, v]) =>
          html`
            <tr>
              <th scope="row"><code>${k}</code></th>
              <td><code>${v}</code></td>
            </tr>
          `
        )}</tbody>
      </table>
    `}
    <h2>Payload</h2>
    <p class="muted">${num(body.size)} bytes${body.kind === "base64"
      ? ", not UTF-8: shown as base64"
      : ""}${body.truncated
      ? `, first ${num(PAGE_PREVIEW)} bytes shown`
      : ""}${letter.truncated
      ? "; too large to copy: the original stays in the event's stream and a replay takes it from there"
      : ""}.</p>
    <pre class="box" id="payload">${body.kind === "text"
      ? pretty(body.content)
      : body.content}</pre>
  `;
}
