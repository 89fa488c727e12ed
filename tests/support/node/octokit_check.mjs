// Drive @octokit/rest against a base URL: the same GET twice, then paginate a repo's pulls.
// Usage: node octokit_check.mjs BASE_URL TOKEN OWNER REPO  -> prints one JSON line.
import { Octokit } from "@octokit/rest";

const [baseUrl, token, owner, repo] = process.argv.slice(2);
const octokit = new Octokit({ baseUrl, auth: token, request: { fetch } });
const modes = [];
let fullName = null;
for (let i = 0; i < 2; i++) {
  const res = await octokit.rest.repos.get({ owner, repo });
  modes.push(res.headers["x-cache-mode"]);
  fullName = res.data.full_name;
}
const pulls = await octokit.paginate(octokit.rest.pulls.list, { owner, repo, state: "all", per_page: 100 });
console.log(JSON.stringify({ modes, full_name: fullName, pulls: pulls.length }));
