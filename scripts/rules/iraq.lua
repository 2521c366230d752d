-- Example rules: US troops being made to leave Iraq, and the killing of Qassem Soleimani.
-- The seed article (samples/iraq-troops-2020-01.txt) never says "troop withdrawal" and
-- spells the general's name two ways; these rules still catch it. Try:
--   build/herald test -c scripts/rules/iraq.lua scripts/samples/iraq-troops-2020-01.txt
-- Without `notify`, a rule alerts every notifier of the config that loads it.

require "herald.concepts" -- @withdrawal: withdraw*, pull out, removal, leave, expel*, …

herald.rule "iraq-withdrawal" {
  query = '(troop* NEAR/8 @withdrawal) AND Iraq',
  -- A big story is covered by every outlet within the hour: the first article alerts at
  -- once, the ones after it come folded into one message per half hour.
  throttle = "30m",
}

herald.rule "soleimani" {
  query = 'Soleimani~1',
  -- A match function runs after its query passed: here the name must also stand within
  -- a dozen words of a killing or a strike.
  match = function(a)
    return a:near("Soleimani~1", "kill* OR assassinat* OR strike* OR airstrike*", 12)
  end,
}

-- Rule tests: `herald test --check -c scripts/rules/iraq.lua` runs them (paths are
-- relative to this file) and exits non-zero on any miss.
herald.expect { rule = "iraq-withdrawal", fires = "../samples/iraq-troops-2020-01.txt",
                not_fires = { "../samples/iraq-oil-exports.txt", "../samples/floods.txt" } }
herald.expect { rule = "soleimani", fires = "../samples/iraq-troops-2020-01.txt",
                not_fires = "../samples/iraq-oil-exports.txt" }
