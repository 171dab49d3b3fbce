-- Driven by test_neovim.py: Neovim (headless) loads lsp/clients/neovim/codemoat.lua as a user would, opens a
-- file, asks codemoat-lsp for textDocument/completion at the end of its last line and writes what Neovim's own
-- omnifunc conversion makes of the answer to $CODEMOAT_NVIM_OUT as JSON.
local out = os.getenv("CODEMOAT_NVIM_OUT")

local function finish(result)
  local file = io.open(out, "w")
  file:write(vim.fn.json_encode(result))
  file:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  local codemoat = dofile(os.getenv("CODEMOAT_NVIM_MODULE"))
  codemoat.setup({ cmd = { os.getenv("CODEMOAT_LSP_BIN") }, max_tokens = 8, debounce_ms = 0, timeout_ms = 240000 })
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("CODEMOAT_NVIM_FILE")))
  local bufnr = vim.api.nvim_get_current_buf()
  local ready = vim.wait(60000, function()
    local id = codemoat.client_id and codemoat.client_id()
    local client = id and vim.lsp.get_client_by_id(id)
    return client ~= nil and client.initialized == true
  end, 20)
  if not ready then
    return finish({ error = "codemoat-lsp did not initialize" })
  end
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  local row = #lines
  while row > 1 and lines[row] == "" do
    row = row - 1
  end
  -- As in insert mode: the cursor after the last character (normal mode would clamp it onto it).
  vim.o.virtualedit = "onemore"
  vim.api.nvim_win_set_cursor(0, { row, #lines[row] })
  local params = vim.lsp.util.make_position_params()
  local responses, request_err = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", params, 240000)
  if not responses then
    return finish({ error = "no response: " .. tostring(request_err) })
  end
  local prefix = lines[row]:match("[%w_]*$")
  local words, errors = {}, {}
  for _, response in pairs(responses) do
    if response.err then
      table.insert(errors, vim.inspect(response.err))
    elseif response.result then
      for _, item in ipairs(vim.lsp.util.text_document_completion_list_to_complete_items(response.result, prefix)) do
        table.insert(words, item.word)
      end
    end
  end
  finish({ version = tostring(vim.version().major) .. "." .. tostring(vim.version().minor), prefix = prefix,
           words = words, errors = errors })
end)
if not ok then
  finish({ error = tostring(err) })
end
