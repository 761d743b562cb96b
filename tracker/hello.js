/*
 * ownstats tracker (source). Build: `python -m tracker.build` -> dist/hello.js.
 *
 * Sends GET beacons to hello.gif next to this script (same origin, same
 * directory), so one file works on any collector domain without templating.
 * Protocol: SPEC.md §3. Stores nothing in the browser; the only thing it ever
 * reads from storage is the owner's opt-out flag localStorage.ownstats_ignore.
 *
 * Written for the gzip budget (GZIP_BUDGET in build.py, enforced by
 * tests/tracker/test_tracker_build.py): modern syntax only (keepalive fetch
 * needs a modern browser anyway), and one switch,
 * `muted`, for both "this visitor is not tracked" and "this page is excluded",
 * so the opt-outs cost one check in send() instead of a second code path.
 */
((win, doc, nav, loc) => {
  let script = doc.currentScript;
  let data = script.dataset;
  let endpoint = new URL('hello.gif', script.src);
  let off; // visitor opted out / automation / local page: never send
  let muted; // off, or the current page matches data-exclude
  let page; // params shared by every beacon about the current page view
  let path; // path (+ hash) of the current page view, to ignore no-op navigations
  let engaged; // visible ms not yet reported in an `en` beacon
  let visibleSince; // when the page became visible, false while hidden
  let depth; // max scroll depth in percent for this page view

  // localStorage comes last: reading it can throw (sandboxed iframe, blocked
  // storage), which leaves `off` unset, i.e. tracking as normal.
  try {
    off =
      nav.doNotTrack == 1 ||
      nav.globalPrivacyControl ||
      nav.webdriver ||
      loc.protocol == 'file:' ||
      (/^(localhost|127\.|\[::1)/.test(loc.hostname) && !('allowLocalhost' in data)) ||
      localStorage.ownstats_ignore == 'true';
  } catch {}

  // Absent (null/undefined) values are left out. keepalive: the request
  // outlives the page (unload, link navigation), so nothing ever waits for
  // it. The catch keeps a blocked beacon out of the site's error monitoring.
  let send = (type, extra) =>
    muted ||
    fetch(
      endpoint +
        '?' +
        new URLSearchParams(
          Object.entries({ v: 1, t: type, ...page, ...extra }).filter(([, value]) => value != null)
        ),
      { keepalive: true, mode: 'no-cors' }
    ).catch(() => {});

  let measureScroll = () => {
    // `| 0` truncates, and turns NaN (nothing laid out yet) into 0.
    depth = Math.max(
      depth,
      Math.min(100, ((scrollY + innerHeight) * 100) / doc.documentElement.scrollHeight) | 0
    );
  };

  // Moves visible time since the last call into `engaged` and restarts the
  // clock only while visible. On hide (or `leaving`, an SPA navigation) it
  // reports what accrued since the previous `en` of this page view: the
  // processor sums `e` per page id. Nothing accrued, nothing sent.
  let engagement = (leaving) => {
    let now = Date.now();
    engaged += visibleSince && now - visibleSince;
    visibleSince = !doc.hidden && now;
    (leaving || doc.hidden) && engaged && send('en', { e: engaged, sd: depth }) && (engaged = 0);
  };

  let pageview = (first) => {
    let current = loc.pathname + ('hash' in data ? loc.hash : '');
    let search = new URLSearchParams(loc.search);
    if (first || current != path) {
      page && engagement(1);
      path = current;
      // data-exclude="/admin/*, /drafts": `*` matches anything, every other
      // character is literal (escaping \W is valid in a non-unicode RegExp).
      muted =
        off ||
        data.exclude
          ?.split(',')
          .some((pattern) =>
            RegExp('^' + pattern.trim().replace(/\W/g, '\\$&').replace(/\\\*/g, '.*') + '$').test(current)
          );
      page = {
        u: loc.origin + current,
        id: Math.random(), // per page view, opaque, kept in memory only
        s: search.get('ref') || search.get('source'),
        w: innerWidth,
        sw: screen.width,
        sh: screen.height,
        l: nav.language,
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone
      };
      // us um uc ut un <- utm_source utm_medium utm_campaign utm_term utm_content
      ['source', 'medium', 'campaign', 'term', 'content'].map(
        (name, i) => (page['u' + 'smctn'[i]] = search.get('utm_' + name))
      );
      engaged = visibleSince = depth = 0;
      engagement();
      measureScroll();
      // The referrer without query/fragment: beacon URLs are kept raw in CDN logs.
      send('pv', first && { r: doc.referrer.split(/[?#]/)[0] || null });
    }
  };

  // Props: the first 30 keys (the processor rejects more), values as strings.
  let track = (name, options) => {
    let props = options?.props;
    let count = 0;
    name &&
      send('ev', {
        n: name,
        p: props && JSON.stringify(props, (key, value) => (key ? (count++ < 30 ? '' + value : void 0) : value))
      });
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
    let navigate = () => pageview();
    pageview(1);
    ['pushState', 'replaceState'].map((method) => {
      let original = history[method];
      history[method] = (...args) => {
        original.apply(history, args);
        navigate();
      };
    });
    // Fragment navigations fire popstate too, which is all data-hash needs.
    win.addEventListener('popstate', navigate);
    // Fires on tab switch, minimise and unload alike (pagehide adds nothing).
    // The event object counts as `leaving`, harmlessly: a page turning
    // visible has nothing accrued (it was flushed when it was hidden).
    doc.addEventListener('visibilitychange', engagement);
    win.addEventListener('scroll', measureScroll);
    doc.addEventListener('click', onClick);
    doc.addEventListener('auxclick', onClick);
    let queued = win.ownstats?.q;
    win.ownstats = track;
    queued?.map((args) => track(...args));
  };

  // A prerendered page may never be seen: count it only once it is shown.
  doc.prerendering ? doc.addEventListener('prerenderingchange', start) : start();
})(window, document, navigator, location);
