-- herald's starter concepts: named synonym sets for @name in queries. Each is the set of
-- words and phrases a reader would accept for the idea; stems and wildcards widen them.
-- Load with `require "herald.concepts"`; declare your own with herald.concept "name" { … }.

herald.concept "withdrawal" {
  "withdraw*", "pull out", "pulls out", "pulled out", "pulling out", "pullout", "pull-out",
  "removal", "remove*", "leave", "leaving", "left the country", "exit*", "expel*",
  "expulsion", "drawdown", "draw down", "drawing down", "evacuat*", "depart*",
  "quit", "retreat*", "redeploy*", "bring home", "brought home", "go home", "oust*",
  "kick out", "kicked out", "end the presence", "end of the presence",
}

herald.concept "attack" {
  "attack*", "strike*", "airstrike*", "air strike*", "bomb*", "shell*", "missile*",
  "rocket*", "raid*", "assault*", "ambush*", "shot", "shooting", "gunfire", "explosion*",
  "blast*", "drone strike*", "offensive", "invade*", "invasion", "incursion*",
}

herald.concept "sanctions" {
  "sanction*", "embargo*", "blacklist*", "asset freeze*", "freeze assets", "frozen assets",
  "export ban*", "import ban*", "trade restriction*", "punitive measure*", "tariff*",
  "blockade*", "restrictive measure*",
}

herald.concept "protest" {
  "protest*", "demonstrat*", "rally", "rallies", "march*", "riot*", "unrest", "uprising*",
  "sit-in*", "strike action", "walkout*", "civil disobedience", "clash*", "tear gas",
}

herald.concept "resignation" {
  "resign*", "step down", "steps down", "stepped down", "stepping down", "quit", "quits",
  "ousted", "sacked", "fired", "dismiss*", "leave office", "left office", "exit*",
  "impeach*", "removed from office",
}

herald.concept "election" {
  "election*", "vote*", "voting", "ballot*", "poll*", "referendum*", "runoff*", "run-off*",
  "primar*", "caucus*", "candidate*", "campaign*", "electoral", "polling station*",
  "turnout", "landslide",
}
