// Bootstrap for the Passerelle GraphQL IDE (project-authored, not vendored).
//
// Kept out of index.html so the page works under a Content-Security-Policy
// without 'unsafe-inline' in script-src. It expects the React, ReactDOM and
// GraphiQL UMD globals loaded by the preceding <script> tags.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  if (!window.React || !window.ReactDOM || !window.GraphiQL) {
    root.textContent = 'The GraphQL IDE could not load its scripts.';
    return;
  }

  // The API lives at /graphql on this origin, whatever path the IDE is
  // mounted at (/ or /playground/).
  var loc = window.location;
  var url = loc.origin + '/graphql';
  var subscriptionUrl =
    (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host + '/graphql';

  // createFetcher sends the "Headers" pane as HTTP headers on queries and
  // mutations. For subscriptions (graphql-ws, "graphql-transport-ws"
  // subprotocol) it merges the same headers into the connection_init payload,
  // e.g. {"Authorization": "Bearer ..."}.
  var fetcher = window.GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: subscriptionUrl,
  });

  var defaultQuery = [
    '# Welcome to the Passerelle GraphQL IDE.',
    '#',
    '# To authenticate, open "Headers" below',
    '# and enter your token:',
    '#',
    '#   {"Authorization": "Bearer <token>"}',
    '#',
    '# Headers go with every query and mutation,',
    '# and in the connection_init payload of',
    '# subscriptions. They are not saved: paste',
    '# the token again after a reload. After',
    '# changing them, click "Re-fetch GraphQL',
    '# schema" (left) to update the docs and',
    '# autocompletion.',
    '#',
    '# Run with Ctrl-Enter (Cmd-Enter on a Mac).',
    '',
    '{',
    '  __typename',
    '}',
    '',
  ].join('\n');

  window.ReactDOM.createRoot(root).render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
    }),
  );
})();
