// The chat page: conversations (list, open, rename, delete), the repository selector, questions whose answers
// stream in as server-sent events, and the sources each answer cites, with a preview.
// Text from the model or a repository is shown with textContent; the only HTML put into the page is what the
// server rendered (Markdown with raw HTML disabled, code highlighted by Pygments: escaped text and classes).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  let conversationId = null;
  let busy = false;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function selectedRepos() {
    return Array.from($("repo-select").selectedOptions).map((o) => o.value);
  }

  async function loadRepositories(selected) {
    const data = await window.codemoat.api("GET", "/api/repositories");
    const select = $("repo-select");
    select.textContent = "";
    for (const name of data.repositories) {
      const option = el("option", "", name);
      option.value = name;
      option.selected = Boolean(selected && selected.includes(name));
      select.append(option);
    }
    if (!data.repositories.length) $("repo-hint").textContent = "You may not read any repository yet: answers come without sources.";
  }

  async function loadConversations() {
    const data = await window.codemoat.api("GET", "/api/conversations");
    const list = $("conversation-list");
    list.textContent = "";
    for (const c of data.conversations) {
      if (c.id === conversationId) $("conversation-title").textContent = c.title;
      const item = el("li", c.id === conversationId ? "current" : "");
      const link = el("a", "", c.title);
      link.href = `/console/chat/${c.id}`;
      link.dataset.id = String(c.id);
      item.append(link);
      list.append(item);
    }
  }

  function sourceList(sources, note) {
    const box = el("div", "sources");
    if (!sources || !sources.length) {
      if (note) box.append(el("p", "sources-note", `No sources: ${note}.`));
      return box;
    }
    box.append(el("h3", "", "Sources"));
    const list = el("ol", "");
    list.dataset.testid = "sources";
    for (const s of sources) {
      const item = el("li", "source");
      const button = el("button", "link source-link", `${s.repo}/${s.path}:${s.start_line}-${s.end_line}`);
      button.type = "button";
      button.addEventListener("click", () => openSource(s));
      item.append(el("span", "source-index", `[${s.index || list.children.length + 1}] `), button);
      if (s.preview) item.append(el("div", "source-preview", s.preview));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  function messageNode(message) {
    const node = el("article", `message ${message.role}${message.status !== "ok" ? " " + message.status : ""}`);
    node.dataset.role = message.role;
    const body = el("div", message.role === "assistant" ? "body md" : "body");
    if (message.role === "assistant" && message.html !== undefined) {
      body.innerHTML = message.html; // sanitized by the server (see render.py)
    } else {
      body.textContent = message.content;
    }
    node.append(body);
    if (message.role === "assistant") {
      node.append(sourceList(message.citations));
      linkCitations(body, message.citations);
    }
    return node;
  }

  function showConversation(conversation) {
    conversationId = conversation.id;
    $("chat").dataset.conversation = String(conversation.id);
    $("conversation-title").textContent = conversation.title;
    $("rename-conversation").hidden = false;
    $("delete-conversation").hidden = false;
    const messages = $("messages");
    messages.textContent = "";
    for (const m of conversation.messages || []) messages.append(messageNode(m));
    $("empty-state").hidden = messages.children.length > 0;
    messages.scrollTop = messages.scrollHeight;
  }

  async function openConversation(id, push) {
    const conversation = await window.codemoat.api("GET", `/api/conversations/${id}`);
    if (push) window.history.pushState({ id }, "", `/console/chat/${id}`);
    showConversation(conversation);
    await loadRepositories(conversation.repos);
    await loadConversations();
  }

  async function openSource(source, whole) {
    const panel = $("source-panel");
    panel.hidden = false;
    const title = `${source.repo}/${source.path}:${source.start_line}-${source.end_line}`;
    $("source-title").textContent = whole ? `${source.repo}/${source.path}` : title;
    const code = $("source-code");
    const gutter = $("source-lines");
    code.textContent = "loading…";
    gutter.textContent = "";
    const button = $("whole-file");
    button.hidden = Boolean(whole);
    button.onclick = () => openSource(source, true);
    try {
      const first = whole ? 1 : source.start_line;
      const last = whole ? 1000000 : source.end_line;
      const query = new URLSearchParams({ repo: source.repo, path: source.path, start_line: first, end_line: last });
      const excerpt = await window.codemoat.api("GET", `/api/sources?${query}`);
      code.innerHTML = excerpt.html; // Pygments output: escaped text in spans with classes
      // Line numbers beside the code, the cited lines marked (in the whole file, scrolled to).
      gutter.textContent = "";
      for (let n = excerpt.start_line; n <= excerpt.end_line; n++) {
        const cited = whole && n >= source.start_line && n <= source.end_line;
        gutter.append(el("span", cited ? "cited" : "", `${n}\n`));
      }
      if (whole) {
        const mark = gutter.querySelector(".cited");
        if (mark) mark.scrollIntoView({ block: "center" });
      }
    } catch (failure) {
      code.textContent = failure.message;
    }
  }

  // `[n]` in an answer's text becomes a link to its n-th source (not inside code, where brackets are code).
  function linkCitations(body, sources) {
    if (!sources || !sources.length) return;
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => (node.parentElement.closest("code, pre") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    for (const text of texts) {
      const parts = text.textContent.split(/(\[\d+\])/);
      if (parts.length === 1) continue;
      const fragment = document.createDocumentFragment();
      for (const part of parts) {
        const match = /^\[(\d+)\]$/.exec(part);
        const source = match && sources.find((s, i) => (s.index || i + 1) === Number(match[1]));
        if (source) {
          const link = el("button", "link cite", part);
          link.type = "button";
          link.title = `${source.repo}/${source.path}:${source.start_line}-${source.end_line}`;
          link.addEventListener("click", () => openSource(source));
          fragment.append(link);
        } else {
          fragment.append(part);
        }
      }
      text.replaceWith(fragment);
    }
  }

  async function readEvents(response, handle) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        let data = "";
        for (const line of raw.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) handle(event, JSON.parse(data));
      }
    }
  }

  async function ask(event) {
    event.preventDefault();
    if (busy) return;
    const question = $("question");
    const content = question.value.trim();
    const error = $("ask-error");
    error.hidden = true;
    if (!content) return;
    busy = true;
    $("send").disabled = true;
    // Stop aborts the stream; the server then cancels the generation and stores the answer as cancelled.
    const controller = new AbortController();
    const stop = $("stop");
    stop.hidden = false;
    stop.onclick = () => controller.abort();
    $("empty-state").hidden = true;
    let answer = null;
    try {
      if (conversationId === null) {
        const created = await window.codemoat.api("POST", "/api/conversations", { repos: selectedRepos() });
        window.history.pushState({ id: created.id }, "", `/console/chat/${created.id}`);
        showConversation(created);
      }
      $("empty-state").hidden = true;
      const response = await fetch(`/api/conversations/${conversationId}/messages`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream", "X-CSRF-Token": window.codemoat.csrf() },
        body: JSON.stringify({ content, repos: selectedRepos() }),
        signal: controller.signal,
      });
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error((data.error && data.error.message) || `the question failed (${response.status})`);
      }
      question.value = "";
      const messages = $("messages");
      answer = messageNode({ role: "assistant", content: "", status: "ok", citations: [] });
      answer.classList.add("streaming");
      answer.dataset.testid = "streaming-answer";
      const body = answer.querySelector(".body");
      // Finished blocks arrive once as sanitized HTML; the text after them streams as plain text.
      const blocks = document.createElement("div");
      const tail = document.createElement("div");
      body.replaceChildren(blocks, tail);
      let raw = "";
      let renderedEnd = 0;
      await readEvents(response, (name, data) => {
        if (name === "start") {
          messages.append(messageNode(data.message), answer);
        } else if (name === "delta") {
          raw += data.text;
          tail.textContent = raw.slice(renderedEnd);
        } else if (name === "block") {
          blocks.insertAdjacentHTML("beforeend", data.html);
          renderedEnd = data.end;
          tail.textContent = raw.slice(renderedEnd);
        } else if (name === "sources") {
          answer.querySelector(".sources").replaceWith(sourceList(data.sources, data.note));
        } else if (name === "error") {
          answer.classList.add("error");
          error.textContent = data.message;
          error.hidden = false;
        } else if (name === "done") {
          body.innerHTML = data.html;
          linkCitations(body, data.message.citations);
          answer.classList.remove("streaming");
          answer.dataset.messageId = String(data.message.id);
          answer.dataset.testid = "answer";
        }
        messages.scrollTop = messages.scrollHeight;
      });
      await loadConversations();
    } catch (failure) {
      if (controller.signal.aborted) {
        if (answer) {
          answer.classList.remove("streaming");
          answer.classList.add("cancelled");
          answer.dataset.testid = "stopped-answer";
          answer.querySelector(".body").append(el("p", "hint", "Stopped."));
        }
        await loadConversations();
      } else {
        error.textContent = failure.message;
        error.hidden = false;
      }
    } finally {
      busy = false;
      stop.hidden = true;
      stop.onclick = null;
      $("send").disabled = false;
    }
  }

  async function rename() {
    const title = window.prompt("New title", $("conversation-title").textContent);
    if (title === null) return;
    try {
      const updated = await window.codemoat.api("PATCH", `/api/conversations/${conversationId}`, { title });
      $("conversation-title").textContent = updated.title;
      await loadConversations();
    } catch (failure) {
      window.alert(failure.message);
    }
  }

  async function remove() {
    if (!window.confirm("Delete this conversation?")) return;
    await window.codemoat.api("DELETE", `/api/conversations/${conversationId}`);
    window.location.assign("/console/chat");
  }

  async function repositoriesChanged() {
    if (conversationId === null) return;
    try {
      await window.codemoat.api("PATCH", `/api/conversations/${conversationId}`, { repos: selectedRepos() });
    } catch (failure) {
      $("ask-error").textContent = failure.message;
      $("ask-error").hidden = false;
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("ask").addEventListener("submit", ask);
    $("question").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("ask").requestSubmit();
    });
    $("new-conversation").addEventListener("click", () => window.location.assign("/console/chat"));
    $("rename-conversation").addEventListener("click", rename);
    $("delete-conversation").addEventListener("click", remove);
    $("repo-select").addEventListener("change", repositoriesChanged);
    $("close-source").addEventListener("click", () => { $("source-panel").hidden = true; });
    $("conversation-list").addEventListener("click", (e) => {
      const link = e.target.closest("a[data-id]");
      if (!link) return;
      e.preventDefault();
      openConversation(Number(link.dataset.id), true);
    });
    window.addEventListener("popstate", () => window.location.reload());
    const initial = $("chat").dataset.conversation;
    try {
      if (initial) await openConversation(Number(initial), false);
      else {
        await loadRepositories([]);
        await loadConversations();
      }
    } catch (failure) {
      $("ask-error").textContent = failure.message;
      $("ask-error").hidden = false;
    }
    document.body.dataset.ready = "1";
  });
})();
