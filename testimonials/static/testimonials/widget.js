// Feedback Hub testimonials, the script embed. Paste where the quotes should appear:
//   <div class="feedback-hub-testimonials" data-survey="onboarding" data-layout="carousel"
//        data-theme="light" data-accent="#2f6fed" data-limit="6" data-tag=""></div>
//   <script src="https://<hub>/static/testimonials/widget.js" async></script>
// It reads the hub's public JSON (/embed/testimonials.json, CORS) and renders inside a shadow root with
// the hub's own stylesheet, so the page's styles and the widget's do not mix. Customer text is only
// ever set as textContent: a quote is shown as written, never run as HTML.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var hub = new URL(script.src);
  var stylesheet = new URL("embed.css", hub).href;
  var ACCENT = /^#[0-9a-fA-F]{6}$/;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function render(host, data, options) {
    var root = host.shadowRoot || host.attachShadow({ mode: "open" });
    root.textContent = "";
    var link = el("link");
    link.rel = "stylesheet";
    link.href = stylesheet;
    root.appendChild(link);
    var section = el("section", "fh-testimonials fh-" + options.layout + " fh-" + options.theme);
    section.setAttribute("aria-label", "Testimonials");
    section.style.setProperty("--fh-accent", options.accent);
    var list = el("ul", "fh-list");
    data.testimonials.forEach(function (item) {
      var li = el("li", "fh-item" + (item.featured ? " fh-featured" : ""));
      var figure = el("figure");
      figure.appendChild(el("blockquote", "fh-quote", String(item.quote)));
      var who = [item.name, item.company].filter(Boolean).join(", ");
      if (who) figure.appendChild(el("figcaption", "fh-who", who));
      li.appendChild(figure);
      list.appendChild(li);
    });
    section.appendChild(list);
    if (options.layout === "carousel" && data.testimonials.length > 1) {
      var nav = el("div", "fh-nav");
      [["‹", "Previous", -1], ["›", "Next", 1]].forEach(function (b) {
        var button = el("button", "", b[0]);
        button.type = "button";
        button.setAttribute("aria-label", b[1]);
        button.addEventListener("click", function () {
          list.scrollBy({ left: b[2] * list.clientWidth * 0.8, behavior: "smooth" });
        });
        nav.appendChild(button);
      });
      section.appendChild(nav);
    }
    root.appendChild(section);
    host.setAttribute("data-state", "ready");
  }

  function load(host) {
    var d = host.dataset;
    var options = {
      layout: d.layout === "grid" ? "grid" : "carousel",
      theme: d.theme === "dark" ? "dark" : "light",
      accent: ACCENT.test(d.accent || "") ? d.accent : "#2f6fed",
    };
    var url = new URL("/embed/testimonials.json", hub);
    ["survey", "tag", "limit"].forEach(function (name) {
      if (d[name]) url.searchParams.set(name, d[name]);
    });
    // The hub answers with an ETag and asks to revalidate: the browser's cache sends If-None-Match
    // and gets 304 while the quotes are the same.
    fetch(url.href, { credentials: "omit", mode: "cors" })
      .then(function (response) {
        if (!response.ok) throw new Error("testimonials: " + response.status);
        return response.json();
      })
      .then(function (data) { render(host, data, options); })
      .catch(function (error) {
        host.setAttribute("data-state", "failed");
        if (window.console) console.warn(error);
      });
  }

  var hosts = document.querySelectorAll(".feedback-hub-testimonials:not([data-state])");
  Array.prototype.forEach.call(hosts, function (host) {
    host.setAttribute("data-state", "loading");
    load(host);
  });
})();
