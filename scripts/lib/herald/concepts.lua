-- herald's starter concepts: named synonym sets for @name in queries. Each is the set of
-- words and phrases a reader would accept for the idea. Words are compared after case
-- folding, accent stripping and stemming (so "withdrawal" also covers "withdrawals");
-- a trailing * widens a word to every word starting with it; "quoted phrases" must appear
-- word for word. Load with `require "herald.concepts"`; declare your own with
-- herald.concept "name" { … } (a different name: a concept is declared once).

herald.concept "withdrawal" {
  "withdraw*", "pull out", "pulls out", "pulled out", "pulling out", "pullout", "pull-out",
  "pull back", "pulled back", "removal", "remove", "removes", "removed", "removing",
  "leave", "leaves", "leaving", "exit", "exits", "exiting", "expel*", "expulsion",
  "drawdown", "draw down", "drawing down", "evacuat*", "depart*", "quit", "retreat*",
  "redeploy*", "bring home", "brought home", "bringing home", "go home", "oust*",
  "kick out", "kicked out", "end the presence", "end its presence", "ending the presence",
}

herald.concept "attack" {
  "attack*", "strike", "strikes", "struck", "airstrike*", "air strike*", "drone strike*",
  "missile strike*", "bomb*", "shell*", "missile*", "rocket*", "raid*", "assault*",
  "ambush*", "gunfire", "gunmen", "shooting", "shot dead", "opened fire", "explosion*",
  "blast*", "suicide bomb*", "car bomb*", "offensive", "invade*", "invasion", "incursion*",
  "killed", "assassinat*", "massacre*", "artillery", "mortar*", "grenade*",
}

herald.concept "sanctions" {
  "sanction*", "embargo*", "blacklist*", "asset freeze*", "assets frozen", "freeze assets",
  "frozen assets", "travel ban*", "export ban*", "import ban*", "export control*",
  "trade restriction*", "trade barrier*", "punitive measure*", "restrictive measure*",
  "tariff*", "blockade*", "boycott*", "penalt*", "entity list", "denied party",
  "secondary sanctions", "designat*", "cut off from swift", "ban on imports",
}

herald.concept "protest" {
  "protest*", "demonstrat*", "rally", "rallies", "rallied", "march", "marches", "marched",
  "riot*", "unrest", "uprising*", "sit-in*", "sit in", "walkout*", "walk out",
  "civil disobedience", "clash*", "tear gas", "water cannon*", "rubber bullet*",
  "crackdown*", "dissent*", "occupy", "occupied the square", "blockad*", "picket*",
  "took to the streets", "take to the streets", "mass gathering*",
}

herald.concept "resignation" {
  "resign*", "step down", "steps down", "stepped down", "stepping down", "stand down",
  "stood down", "standing down", "quit", "quits", "quitting", "ousted", "sacked",
  "fired", "dismiss*", "leave office", "left office", "leaves office", "removed from office",
  "impeach*", "no-confidence", "no confidence", "forced out", "vacate*", "abdicat*",
  "relieved of his duties", "relieved of her duties", "departure", "successor",
}

herald.concept "election" {
  "election*", "elect", "elected", "vote", "votes", "voted", "voting", "voter*", "ballot*",
  "poll", "polls", "polling", "polling station*", "referendum*", "runoff*", "run-off*",
  "primary", "primaries", "caucus*", "candidate*", "campaign*", "electoral", "turnout",
  "landslide", "re-elect*", "reelect*", "by-election*", "snap election*", "exit poll*",
  "electoral commission", "recount*", "constituenc*",
}

herald.concept "ceasefire" {
  "ceasefire*", "cease-fire*", "truce*", "armistice*", "peace deal*", "peace agreement*",
  "peace talks", "peace accord*", "cessation of hostilities", "halt to the fighting",
  "stop the fighting", "end the fighting", "de-escalat*", "deescalat*", "negotiat*",
  "mediat*", "humanitarian pause*", "lay down their arms", "laid down their arms",
}

herald.concept "coup" {
  "coup*", "coup d'etat", "putsch*", "junta*", "seize power", "seized power",
  "seizing power", "military takeover", "overthrow*", "toppl*", "deposed", "depose",
  "mutin*", "rebel soldiers", "state of emergency", "martial law", "power grab*",
  "unconstitutional change",
}

herald.concept "arrest" {
  "arrest*", "detain*", "detention*", "custody", "jailed", "imprison*", "prison sentence*",
  "sentenced", "charged with", "indict*", "extradit*", "apprehend*", "taken into custody",
  "held without charge", "house arrest", "warrant*", "manhunt*", "captured",
}

herald.concept "disaster" {
  "earthquake*", "quake*", "tsunami*", "flood*", "hurricane*", "typhoon*", "cyclone*",
  "tornado*", "wildfire*", "bushfire*", "landslide*", "mudslide*", "avalanche*",
  "drought*", "famine*", "volcan*", "eruption*", "heatwave*", "storm surge*",
  "state of disaster", "emergency services", "death toll", "evacuation order*",
}
