// topicMatches(): the client-side mirror of the server's subscription matching (section 4.7),
// table-driven.

import { equal } from "node:assert/strict";
import { topicMatches } from "../../mod.ts";

type Case = [filter: string, topic: string, matches: boolean];

Deno.test("topicMatches() matches as section 4.7 describes", { permissions: "none" }, async (t) => {
  const cases: Case[] = [
    // 4.7.1.2: # matches the parent level and any number of child levels.
    ["sport/tennis/player1/#", "sport/tennis/player1", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
    ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
    ["sport/#", "sport", true],
    ["#", "a/b/c", true],
    ["#", "/", true],
    // 4.7.1.3: + matches exactly one level, empty levels included.
    ["sport/tennis/+", "sport/tennis/player1", true],
    ["sport/tennis/+", "sport/tennis/player1/ranking", false],
    ["sport/+", "sport", false],
    ["sport/+", "sport/", true],
    ["+", "sport", true],
    ["+/+", "/finance", true],
    ["/+", "/finance", true],
    ["+", "/finance", false],
    ["+/tennis/#", "sport/tennis/player1", true],
    // Exact levels.
    ["a/b", "a/b", true],
    ["a/b", "a/b/", false],
    ["a/b", "a", false],
    // A shared subscription matches as its filter part.
    ["$share/g/sport/+", "sport/tennis", true],
    ["$share/g/sport/+", "sport", false],
  ];
  for (const [filter, topic, matches] of cases) {
    await t.step(
      `${JSON.stringify(filter)} ${matches ? "matches" : "does not match"} ${
        JSON.stringify(topic)
      }`,
      () => {
        equal(topicMatches(filter, topic), matches);
      },
    );
  }
});

Deno.test(
  "topicMatches(): a filter starting with # or + never matches a topic starting with $ [MQTT-4.7.2-1] [v3.1.1 MQTT-4.7.2-1]",
  { permissions: "none" },
  async (t) => {
    const cases: Case[] = [
      ["#", "$SYS/broker/uptime", false],
      ["+/monitor/Clients", "$SYS/monitor/Clients", false],
      ["+", "$SYS", false],
      ["$share/g/#", "$SYS/x", false],
      // A filter that names the $ level itself does match.
      ["$SYS/#", "$SYS/broker/uptime", true],
      ["$SYS/monitor/+", "$SYS/monitor/Clients", true],
      // $ only counts as the first character of the topic.
      ["#", "a/$SYS", true],
      ["+/$x", "a/$x", true],
    ];
    for (const [filter, topic, matches] of cases) {
      await t.step(`${JSON.stringify(filter)} and ${JSON.stringify(topic)}`, () => {
        equal(topicMatches(filter, topic), matches);
      });
    }
  },
);

Deno.test(
  "topicMatches() compares levels as they are, with no normalization [MQTT-4.7.3-4] [v3.1.1 MQTT-4.7.3-4]",
  { permissions: "none" },
  async (t) => {
    const cases: Case[] = [
      // Case matters (4.7.3).
      ["ACCOUNTS", "Accounts", false],
      ["sport/Tennis", "sport/tennis", false],
      // Unicode is compared code unit by code unit: "é" precomposed (U+00E9) is not "e" + U+0301.
      ["caf\u00e9/+", "cafe\u0301/x", false],
      ["caf\u00e9/+", "caf\u00e9/x", true],
      // Spaces, empty levels and repeated slashes are kept, not trimmed or collapsed.
      ["a /b", "a/b", false],
      ["a//b", "a/b", false],
      ["a//b", "a//b", true],
      ["a/b/", "a/b", false],
      // A replacement character is a character like any other, not a stand-in for another.
      ["\ufffd", "\u00ff", false],
      ["\ufffd", "\ufffd", true],
    ];
    for (const [filter, topic, matches] of cases) {
      await t.step(`${JSON.stringify(filter)} and ${JSON.stringify(topic)}`, () => {
        equal(topicMatches(filter, topic), matches);
      });
    }
  },
);
