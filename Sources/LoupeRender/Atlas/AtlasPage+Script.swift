extension AtlasPage {
    /// The page's stylesheet, inlined; system fonts only.
    static let css = """
        :root { --fg: #1c1e21; --muted: #5f6670; --line: #dde1e6; --bg: #f4f6f8; --card: #fff; --accent: #2f6fdf; }
        * { box-sizing: border-box; }
        [hidden] { display: none !important; }
        body { margin: 0; background: var(--bg); color: var(--fg);
          font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 12px; }
        header { padding-top: 16px; }
        h1 { font-size: 1.5rem; margin: 0 0 4px; overflow-wrap: anywhere; }
        h2 { font-size: 1.2rem; margin: 0 0 8px; }
        h3 { font-size: 0.95rem; margin: 0 0 6px; }
        .sub, .note { color: var(--muted); margin: 0 0 8px; font-size: 0.85rem; overflow-wrap: anywhere; }
        nav { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0 12px; }
        nav a { color: var(--accent); text-decoration: none; background: var(--card); border: 1px solid var(--line);
          border-radius: 999px; padding: 2px 10px; font-size: 0.85rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px; margin: 0 0 14px; }
        .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 0.8rem; overflow-wrap: anywhere; }
        .controls { display: flex; gap: 6px; margin: 0 0 8px; }
        .controls button { font: inherit; font-size: 0.85rem; border: 1px solid var(--line); background: var(--card); border-radius: 6px; padding: 2px 10px; cursor: pointer; }
        .controls button.on { background: var(--accent); color: #fff; border-color: var(--accent); }
        .layout { display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px; }
        @media (min-width: 900px) { .layout { grid-template-columns: minmax(0, 3fr) minmax(240px, 1fr); } }
        .map { position: relative; width: 100%; max-width: 820px; aspect-ratio: 1 / 1; background: #fafbfc;
          border: 1px solid var(--line); border-radius: 8px; overflow: hidden; --pt: 4.5%; }
        .map .pt { position: absolute; width: var(--pt); height: var(--pt); transform: translate(-50%, -50%);
          border: 2px solid #888; border-radius: 3px; background: #fff; cursor: pointer;
          transition: left 0.4s, top 0.4s, width 0.4s, height 0.4s, opacity 0.2s; }
        .map.grid .pt { transform: none; width: var(--cw); height: var(--ch); border-width: 1px; border-radius: 0; }
        .map.grid .pt.off { display: none; }
        .map .pt:hover, .map .pt:focus { z-index: 3; outline: 2px solid var(--fg); }
        .map .pt.sel { z-index: 2; outline: 3px solid var(--fg); }
        .map .pt.nb { z-index: 1; outline: 2px dashed var(--fg); }
        .map.picked .pt:not(.sel):not(.nb) { opacity: 0.3; }
        .panel { border: 1px solid var(--line); border-radius: 8px; padding: 10px; align-self: start; }
        .panel .query { display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }
        .panel img { width: 56px; height: 56px; border-radius: 3px; flex: none; }
        .panel ol { list-style: none; margin: 0; padding: 0; }
        .panel li { display: flex; gap: 8px; align-items: center; padding: 4px 0; border-top: 1px solid var(--line); cursor: pointer; font-size: 0.85rem; }
        .panel .wrong { color: #b3261e; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; padding: 0; margin: 10px 0 0; font-size: 0.85rem; }
        .legend .sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
        .tip { position: fixed; z-index: 10; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
          box-shadow: 0 4px 16px rgba(0, 0, 0, 0.18); padding: 8px; width: 200px; pointer-events: none; font-size: 0.85rem; }
        .tip img { display: block; width: 184px; height: 184px; object-fit: contain; margin-bottom: 6px; image-rendering: pixelated; }
        table { border-collapse: collapse; font-size: 0.9rem; }
        th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: left; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.total td { font-weight: 600; }
        td.bar { width: 160px; }
        td.bar span { display: block; height: 10px; background: var(--accent); border-radius: 2px; }
        figure { margin: 0 0 14px; }
        figure img { max-width: 100%; height: auto; image-rendering: pixelated; }
        figcaption { font-size: 0.85rem; color: var(--muted); margin-top: 4px; }
        dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 14px; margin: 0; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        footer { color: var(--muted); font-size: 0.8rem; padding-bottom: 24px; }
        """

    /// The page's script: tooltip on hover or focus, neighbours on click (or Enter), and the
    /// positions/grid switch. Text goes in through `textContent` only.
    static let script = """
        (function () {
          "use strict";
          var items = JSON.parse(document.getElementById("atlas-data").textContent).items;
          var map = document.getElementById("map");
          var pts = Array.prototype.slice.call(map.querySelectorAll("img.pt"));
          var tip = document.getElementById("tip");
          var panel = document.getElementById("neighbors");
          function el(tag, cls, text) {
            var e = document.createElement(tag);
            if (cls) e.className = cls;
            if (text !== undefined) e.textContent = text;
            return e;
          }
          function labelText(it) { return "label: " + (it.l === null || it.l === undefined ? "unknown" : it.l); }
          function predText(it) {
            if (it.c === null || it.c === undefined) return "prediction: none";
            return "prediction: " + it.c + (typeof it.q === "number" ? " (" + (100 * it.q).toFixed(1) + " %)" : "");
          }
          function indexOf(target) {
            var e = target && target.closest ? target.closest("img.pt") : null;
            return e ? Number(e.getAttribute("data-i")) : -1;
          }
          function showTip(i, x, y) {
            var it = items[i];
            document.getElementById("tip-img").src = pts[i].src;
            document.getElementById("tip-path").textContent = it.p;
            document.getElementById("tip-label").textContent = labelText(it);
            document.getElementById("tip-pred").textContent = predText(it);
            tip.hidden = false;
            tip.setAttribute("data-i", String(i));
            var w = tip.offsetWidth || 200, h = tip.offsetHeight || 260;
            tip.style.left = Math.max(4, Math.min(x + 16, window.innerWidth - w - 4)) + "px";
            tip.style.top = Math.max(4, Math.min(y + 16, window.innerHeight - h - 4)) + "px";
          }
          function hideTip() { tip.hidden = true; }
          map.addEventListener("mouseover", function (ev) {
            var i = indexOf(ev.target);
            if (i >= 0) showTip(i, ev.clientX, ev.clientY);
          });
          map.addEventListener("mousemove", function (ev) {
            var i = indexOf(ev.target);
            if (i >= 0 && !tip.hidden) showTip(i, ev.clientX, ev.clientY);
          });
          map.addEventListener("mouseout", function (ev) { if (indexOf(ev.target) >= 0) hideTip(); });
          map.addEventListener("focusin", function (ev) {
            var i = indexOf(ev.target);
            if (i >= 0) { var r = pts[i].getBoundingClientRect(); showTip(i, r.right, r.top); }
          });
          map.addEventListener("focusout", hideTip);
          function select(i) {
            var it = items[i];
            pts.forEach(function (p) { p.classList.remove("sel"); p.classList.remove("nb"); });
            pts[i].classList.add("sel");
            it.n.forEach(function (j) { pts[j].classList.add("nb"); });
            map.classList.add("picked");
            panel.textContent = "";
            panel.setAttribute("data-i", String(i));
            panel.appendChild(el("h3", "", "Nearest neighbours"));
            var q = el("div", "query");
            var qi = el("img"); qi.src = pts[i].src; qi.alt = it.p;
            var qt = el("div");
            qt.appendChild(el("div", "mono", "#" + i + " " + it.p));
            qt.appendChild(el("div", "", labelText(it)));
            qt.appendChild(el("div", "", predText(it)));
            q.appendChild(qi); q.appendChild(qt);
            panel.appendChild(q);
            var list = el("ol"); list.id = "nb-list";
            it.n.forEach(function (j, r) {
              var nb = items[j];
              var li = el("li"); li.setAttribute("data-i", String(j));
              var im = el("img"); im.src = pts[j].src; im.alt = nb.p;
              var t = el("div");
              t.appendChild(el("div", "mono", (r + 1) + ". #" + j + " " + nb.p));
              t.appendChild(el("div", "", "distance " + it.d[r]));
              var lab = el("div", "", labelText(nb));
              if (it.l !== null && it.l !== undefined && nb.l !== it.l) lab.className = "wrong";
              t.appendChild(lab);
              li.appendChild(im); li.appendChild(t);
              li.addEventListener("click", function () { select(j); });
              list.appendChild(li);
            });
            panel.appendChild(list);
          }
          map.addEventListener("click", function (ev) { var i = indexOf(ev.target); if (i >= 0) select(i); });
          map.addEventListener("keydown", function (ev) {
            var i = indexOf(ev.target);
            if (i >= 0 && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); select(i); }
          });
          var bMap = document.getElementById("view-map"), bGrid = document.getElementById("view-grid");
          function view(grid) {
            map.classList.toggle("grid", grid);
            bMap.classList.toggle("on", !grid);
            bGrid.classList.toggle("on", grid);
            pts.forEach(function (p) {
              var gx = p.getAttribute("data-gx");
              p.classList.toggle("off", grid && gx === null);
              if (grid && gx !== null) { p.style.left = gx + "%"; p.style.top = p.getAttribute("data-gy") + "%"; }
              else { p.style.left = p.getAttribute("data-x") + "%"; p.style.top = p.getAttribute("data-y") + "%"; }
            });
          }
          map.style.setProperty("--cw", (100 / Number(map.getAttribute("data-columns") || 1)) + "%");
          map.style.setProperty("--ch", (100 / Number(map.getAttribute("data-rows") || 1)) + "%");
          bMap.addEventListener("click", function () { view(false); });
          bGrid.addEventListener("click", function () { view(true); });
        })();
        """
}
