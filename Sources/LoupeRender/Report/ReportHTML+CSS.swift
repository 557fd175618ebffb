extension ReportHTML {
    /// The page's only stylesheet, inlined. Mobile first: one column, then wider grids from
    /// 700 px on. System fonts only (no download).
    static let css = """
        :root { --fg: #1c1e21; --muted: #5f6670; --line: #dde1e6; --bg: #f4f6f8; --card: #fff; --accent: #2f6fdf; }
        * { box-sizing: border-box; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; background: var(--bg); color: var(--fg);
          font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 12px; }
        header { padding-top: 16px; }
        h1 { font-size: 1.5rem; margin: 0 0 4px; overflow-wrap: anywhere; }
        h2 { font-size: 1.2rem; margin: 0 0 8px; overflow-wrap: anywhere; }
        h3 { font-size: 0.95rem; margin: 0 0 6px; }
        .sub { color: var(--muted); margin: 0 0 8px; font-size: 0.85rem; overflow-wrap: anywhere; }
        nav { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0 12px; }
        nav a { color: var(--accent); text-decoration: none; background: var(--card); border: 1px solid var(--line);
          border-radius: 999px; padding: 2px 10px; font-size: 0.85rem; max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px; margin: 0 0 14px; }
        .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 0.82rem; overflow-wrap: anywhere; }
        dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 14px; margin: 0 0 10px; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        details { margin-top: 8px; }
        summary { cursor: pointer; color: var(--accent); }
        .scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; border: 1px solid var(--line); border-radius: 6px; margin-top: 6px; max-height: 70vh; }
        table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
        th, td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
        thead th { position: sticky; top: 0; background: #eef1f5; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        figure { margin: 0; }
        figcaption { color: var(--muted); font-size: 0.8rem; margin-top: 4px; }
        img { display: block; max-width: 100%; height: auto; border-radius: 4px; background: #fff; }
        img.px { image-rendering: pixelated; }
        figure.wide img { width: auto; max-width: 100%; }
        .top { display: grid; grid-template-columns: 1fr; gap: 14px; margin-bottom: 14px; }
        .top .input img { width: 100%; max-width: 320px; }
        ol.bars { list-style: none; padding: 0; margin: 0 0 8px; }
        ol.bars li { display: grid; grid-template-columns: minmax(0, 9rem) minmax(0, 1fr) 3.6rem; gap: 8px; align-items: center; margin: 4px 0; font-size: 0.9rem; }
        ol.bars .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        ol.bars .bar { height: 14px; background: #e8ecf1; border-radius: 7px; overflow: hidden; }
        ol.bars .bar span { display: block; height: 100%; background: #8fa9d6; border-radius: 7px; }
        ol.bars li.target .bar span { background: var(--accent); }
        ol.bars li.target .name { font-weight: 600; }
        ol.bars .pct { text-align: right; font-variant-numeric: tabular-nums; }
        .methods { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; }
        .method { border: 1px solid var(--line); border-radius: 8px; padding: 8px; display: flex; flex-direction: column; }
        .method img { width: 100%; }
        .detail { display: block; color: var(--fg); overflow-wrap: anywhere; }
        .note { background: #fff7e0; border: 1px solid #f0d98c; border-radius: 6px; padding: 8px; font-size: 0.82rem; margin: 0; overflow-wrap: anywhere; }
        .badge.fail { background: #fde4e1; border: 1px solid #e39a92; color: #8a1d12; border-radius: 6px; padding: 4px 8px;
          font-size: 0.78rem; font-weight: 600; margin: 6px 0 2px; overflow-wrap: anywhere; }
        .sanity { color: var(--muted); font-size: 0.72rem; margin: 4px 0 0; overflow-wrap: anywhere; }
        .legend { margin: 6px 0 2px; font-size: 0.72rem; color: var(--muted); }
        .legend .ramp { display: block; height: 10px; border-radius: 3px; border: 1px solid var(--line); }
        .legend .ticks { display: flex; justify-content: space-between; font-variant-numeric: tabular-nums; }
        .legend .what { display: block; }
        footer { color: var(--muted); font-size: 0.8rem; padding-bottom: 24px; }
        @media (min-width: 700px) {
          header, main, footer { padding: 0 20px; }
          header { padding-top: 20px; }
          .card { padding: 18px 20px; }
          .top { grid-template-columns: minmax(0, 320px) minmax(0, 1fr); align-items: start; }
          .methods { grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); }
          ol.bars li { grid-template-columns: minmax(0, 14rem) minmax(0, 1fr) 4rem; }
        }
        @media print { body { background: #fff; } .card { break-inside: avoid; } details > * { display: block; } }
        """
}
