/*
 * ownstats tracker (source). Build: `python -m tracker.build` -> dist/hello.js.
 *
 * Sends GET beacons to hello.gif next to this script (same origin, same
 * directory), so one file works on any collector domain without templating.
 * Protocol: docs/PROTOCOL.md. Stores nothing in the browser; the only thing it ever
 * reads from storage is the owner's opt-out flag localStorage.ownstats_ignore.
 *
 * Written for the gzip budget (GZIP_BUDGET in build.py, enforced by
 * tests/tracker/test_tracker_build.py); what is written the way it is for
 * bytes says so below. Modern syntax only (keepalive fetch needs a modern
 * browser anyway). One switch, `muted`, covers both "this visitor is not
 * tracked" and "this page is excluded", so the opt-outs cost one check in
 * send() instead of a second code path.
 *
 * A block, not an IIFE: `let` inside a block of a classic script is local to
 * the block, so nothing leaks into the page's globals but `ownstats`.
 */
{
  let doc = document;
  let loc = location;
  let nav = navigator;
  let script = doc.currentScript;
  let data = script.dataset;
  let endpoint = new URL('hello.gif', script.src) + '?';
  // Sent (without query/fragment: beacon URLs are kept raw in CDN logs) with
  // the first page view of this load only, then cleared.
  let referrer = doc.referrer.split(/[?#]/)[0];
  let off; // visitor opted out / automation / not a website: never send
  let muted; // off, or the current page matches data-exclude
  let page; // params shared by every beacon about the current page view
  let path; // path (+ hash) of the current page view, to ignore no-op navigations
  let visibleSince; // start of the current visible stretch, NaN while hidden
  let depth; // max scroll depth in percent for this page view

  // localStorage comes last: reading it can throw (sandboxed iframe, blocked
  // storage), which leaves `off` unset, i.e. tracking as normal. No host:
  // file: pages (and about:/data: documents), which are not a website.
  try {
    off =
      nav.doNotTrack == 1 ||
      nav.globalPrivacyControl ||
      nav.webdriver ||
      !loc.host ||
      (/^(localhost|127\.|\[::1)/.test(loc.host) && !('allowLocalhost' in data)) ||
      localStorage.ownstats_ignore == 'true';
  } catch {}

  // Every listener sits on window in the capture phase: events fired at
  // document (visibilitychange, prerenderingchange, a document scroll) or at
  // a link (click) all pass through it, bubbling or not, so one helper and no
  // `document.addEventListener` is needed. Capture also sees link clicks whose
  // propagation the page stops. It never prevents anything. (Scrolling an
  // inner element also reaches the scroll listener; it only re-reads the
  // document's depth, which is cheap and harmless.)
  let on = (type, listener) => addEventListener(type, listener, true);

  // Absent values never get into `page` or `extra` (see `set`), so the object
  // goes to URLSearchParams as is. keepalive: the request outlives the page
  // (unload, link navigation), so nothing ever waits for it. A plain CORS GET
  // (no preflight: no custom header); the collector answers it with
  // Access-Control-Allow-Origin: *, so no `mode: 'no-cors'` is needed for a
  // quiet console. The catch keeps a blocked beacon out of the site's error
  // monitoring.
  let send = (type, extra) =>
    muted ||
    fetch(endpoint + new URLSearchParams({ v: 1, t: type, ...page, ...extra }), {
      keepalive: true
    }).catch(() => {});

  // Runs on scroll, on visibilitychange and on page changes (the event object
  // is never == 1, so only an explicit 1 means `leaving`, an SPA navigation).
  // Updates the scroll depth (not when leaving: the DOM may already show the
  // next page); an overscroll past 100 % is clamped by the processor, which
  // bounds every number it decodes anyway. On hide or leave it reports the
  // visible time since the page last became visible: every hide reports and
  // ends the visible stretch, so that is exactly the time since the previous
  // `en` of this page view (the processor sums `e` per page id). While hidden
  // `visibleSince` is NaN, so the difference is NaN: nothing accrued (or
  // 0 ms), nothing sent. A visible stretch starts on the first call that
  // finds the page visible.
  let engagement = (leaving) => {
    let now = Date.now();
    leaving == 1 ||
      // `| 0` truncates, and turns NaN (nothing laid out yet) into 0.
      (depth = Math.max(depth, (((scrollY + innerHeight) * 100) / doc.documentElement.scrollHeight) | 0));
    (leaving == 1 || doc.hidden) && (now -= visibleSince) && send('en', { e: now, sd: depth });
    visibleSince = doc.hidden ? NaN : visibleSince || now;
  };

  // Absent (null) and empty query values are left out of the page params.
  let set = (key, value) => value && (page[key] = value);

  let pageview = () => {
    let current = loc.pathname + ('hash' in data ? loc.hash : '');
    let search = new URLSearchParams(loc.search);
    if (current != path) {
      page && engagement(1);
      path = current;
      // data-exclude="/admin/*, /drafts" becomes ^(\/admin\/.*|\/drafts)$:
      // `*` matches anything, `,` separates, whitespace goes (a path never
      // holds a raw space), every other non-word character is literal
      // (escaping it is valid in a non-unicode RegExp). Without the
      // attribute the pattern is ^(undefined)$, which no path (always
      // starting with `/`) matches.
      muted =
        off ||
        RegExp(
          '^(' +
            data.exclude?.replace(/\W/g, (c) => (c == '*' ? '.*' : c == ',' ? '|' : c > ' ' ? '\\' + c : '')) +
            ')$'
        ).test(current);
      page = {
        u: loc.origin + current,
        id: Math.random(), // per page view, opaque, kept in memory only
        w: innerWidth,
        sw: screen.width,
        sh: screen.height,
        l: nav.language,
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone
      };
      set('s', search.get('ref') || search.get('source'));
      // us um uc ut un <- utm_source utm_medium utm_campaign utm_term utm_content
      ['source', 'medium', 'campaign', 'term', 'content'].map((name, i) =>
        set('u' + 'smctn'[i], search.get('utm_' + name))
      );
      visibleSince = NaN;
      depth = 0;
      engagement();
      send('pv', referrer && { r: referrer });
      referrer = 0;
    }
  };

  // Props go as the page gave them: the processor keeps the first 30 keys and
  // makes every value a string (it has to bound what it stores anyway).
  let track = (name, options) => {
    let props = options?.props;
    name && send('ev', { n: name, ...(props && { p: JSON.stringify(props) }) });
  };

  // Never prevents or delays the navigation: the keepalive beacon survives it.
  // Only origin + path of the link is sent: its query string may carry tokens.
  let onClick = ({ target, button }) => {
    let link = target.closest?.('a');
    link &&
      button < 2 &&
      track(
        !('noDownloads' in data) &&
          (link.hasAttribute('download') ||
            /\.(pdf|xlsx?|docx?|pptx?|csv|zip|rar|7z|gz|dmg|exe|msi|apk|mp[34])$/i.test(link.pathname))
          ? 'File Download'
          : !('noOutbound' in data) && link.host && link.host != loc.host && 'Outbound Link: Click',
        { props: { url: link.origin + link.pathname } }
      );
  };

  let start = () => {
    pageview();
    // The original's return value is undefined; pageview ignores its argument.
    ['pushState', 'replaceState'].map((method) => {
      let original = history[method];
      history[method] = (...args) => pageview(original.apply(history, args));
    });
    // Fragment navigations fire popstate too, which is all data-hash needs.
    on('popstate', pageview);
    // Fires on tab switch, minimise and unload alike (pagehide adds nothing).
    on('visibilitychange', engagement);
    on('scroll', engagement);
    on('click', onClick);
    on('auxclick', onClick);
    // Calls queued by the stub go out now, in order, for this page view.
    self.ownstats?.q?.map((args) => track(...args));
    self.ownstats = track;
  };

  // A prerendered page may never be seen: count it only once it is shown.
  doc.prerendering ? on('prerenderingchange', start) : start();
}
