// How to point common clients at the gateway. Any API key string works when
// the gateway has no client keys (clients usually insist on one).

export interface Snippet {
  id: string;
  label: string;
  /** Where the text goes, e.g. a file name or "shell". */
  where: string;
  code: string;
}

export function snippets(endpoint: string, model: string, apiKey = 'local'): Snippet[] {
  const m = model || 'gpt-4o-mini';
  return [
    {
      id: 'python',
      label: 'OpenAI Python',
      where: 'Python',
      code: `from openai import OpenAI

client = OpenAI(base_url="${endpoint}", api_key="${apiKey}")
reply = client.chat.completions.create(
    model="${m}",
    messages=[{"role": "user", "content": "Hello!"}],
)
print(reply.choices[0].message.content)`,
    },
    {
      id: 'node',
      label: 'OpenAI Node',
      where: 'JavaScript',
      code: `import OpenAI from "openai";

const client = new OpenAI({ baseURL: "${endpoint}", apiKey: "${apiKey}" });
const reply = await client.chat.completions.create({
  model: "${m}",
  messages: [{ role: "user", content: "Hello!" }],
});
console.log(reply.choices[0].message.content);`,
    },
    {
      id: 'curl',
      label: 'curl',
      where: 'shell',
      code: `curl ${endpoint}/chat/completions \\
  -H "Content-Type: application/json" \\
  -H "Authorization: Bearer ${apiKey}" \\
  -d '{"model": "${m}", "messages": [{"role": "user", "content": "Hello!"}]}'`,
    },
    {
      id: 'env',
      label: 'Environment',
      where: 'shell',
      code: `export OPENAI_BASE_URL=${endpoint}
export OPENAI_API_KEY=${apiKey}`,
    },
    {
      id: 'cursor',
      label: 'Cursor',
      where: 'Settings → Models',
      code: `Override OpenAI Base URL:  ${endpoint}
OpenAI API Key:            ${apiKey}
Add model:                 ${m}`,
    },
    {
      id: 'continue',
      label: 'Continue',
      where: '~/.continue/config.yaml',
      code: `models:
  - name: ${m} (aigw)
    provider: openai
    model: ${m}
    apiBase: ${endpoint}
    apiKey: ${apiKey}`,
    },
    {
      id: 'codex',
      label: 'Codex CLI',
      where: '~/.codex/config.toml',
      code: `model = "${m}"
model_provider = "aigw"

[model_providers.aigw]
name = "AI Model Gateway"
base_url = "${endpoint}"
wire_api = "responses"`,
    },
    {
      id: 'claude',
      label: 'Claude Code',
      where: 'shell (Anthropic Messages API)',
      code: `ANTHROPIC_BASE_URL=${endpoint.replace(/\/v1\/?$/, '')} ANTHROPIC_AUTH_TOKEN=${apiKey} claude`,
    },
    {
      id: 'aider',
      label: 'aider',
      where: 'shell',
      code: `aider --openai-api-base ${endpoint} --openai-api-key ${apiKey} --model openai/${m}`,
    },
  ];
}
