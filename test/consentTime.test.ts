import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { getCountries } from "libphonenumber-js/max"
import * as time from "../src/internal/consent/time.ts"
import * as Consent from "../src/Consent.ts"

const canonical = (zone: string) => new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone

describe("country time zones", () => {
  it("come from ICU: countries the old table sent to UTC", () => {
    assert.strictEqual(Consent.timeZoneForCountry("BW"), "Africa/Gaborone")
    assert.strictEqual(Consent.timeZoneForCountry("FJ"), "Pacific/Fiji")
    assert.strictEqual(Consent.timeZoneForCountry("LA"), "Asia/Vientiane")
    assert.strictEqual(Consent.timeZoneForCountry("BT"), "Asia/Thimphu")
    assert.strictEqual(time.timeZoneForCountry("bw"), "Africa/Gaborone")
  })

  it("a country with several zones uses its capital's, listed first; strictest sees every zone", () => {
    assert.strictEqual(time.timeZoneForCountry("US"), "America/New_York")
    assert.strictEqual(time.timeZoneForCountry("UA"), "Europe/Kyiv")
    const us = time.zonesOfCountry("US").all
    assert.strictEqual(us[0], "America/New_York")
    assert.includeMembers([...us], ["America/Adak", "Pacific/Honolulu", "America/Phoenix"])
    assert.strictEqual(new Set(us.map(canonical)).size, us.length, "no zone twice under two names")
    // Kyiv is listed once though ICU spells it Europe/Kiev.
    assert.deepStrictEqual(time.zonesOfCountry("UA").all.map(canonical).sort(), ["Europe/Kiev", "Europe/Simferopol"])
  })

  it("regions without ICU zones take a neighbour's; unknown and malformed input has none", () => {
    assert.strictEqual(time.timeZoneForCountry("AC"), canonical("Atlantic/St_Helena"))
    assert.strictEqual(time.timeZoneForCountry("TA"), canonical("Atlantic/St_Helena"))
    assert.strictEqual(time.timeZoneForCountry("XK"), canonical("Europe/Belgrade"))
    for (const input of ["ZZ", "", "USA", "1", "u\u0301"]) assert.strictEqual(time.timeZoneForCountry(input), "UTC", input)
    assert.isUndefined(time.zonesOfCountry("AQ").representative, "Antarctica: several zones, none representative")
  })

  it("every country libphonenumber knows has a valid zone, none UTC by default", () => {
    // No exceptions: Ascension and Tristan da Cunha, whose clocks are UTC all
    // year, still get a named zone (St Helena's) through zoneRegionAliases.
    const exceptions: ReadonlyArray<string> = []
    const countries = getCountries()
    assert.isAbove(countries.length, 240)
    fc.assert(
      fc.property(fc.constantFrom(...countries), (country) => {
        const zones = time.zonesOfCountry(country)
        const zone = time.timeZoneForCountry(country)
        assert.isTrue(time.isValidTimeZone(zone), `${country}: ${zone}`)
        assert.doesNotThrow(() => new Intl.DateTimeFormat("en-US", { timeZone: zone }))
        if (!exceptions.includes(country)) assert.notStrictEqual(zone, "UTC", country)
        assert.strictEqual(zones.representative, zone)
        assert.strictEqual(zones.all[0], zone)
        for (const z of zones.all) assert.isTrue(time.isValidTimeZone(z), `${country}: ${z}`)
      }),
      { seed: 14, numRuns: 300 }
    )
    // And exhaustively, since the list is short.
    for (const country of countries) assert.notStrictEqual(time.timeZoneForCountry(country), "UTC", country)
  })

  it("every representative is one of its country's ICU zones", () => {
    for (const [country, zone] of Object.entries(time.representativeZones)) {
      const locale = new Intl.Locale(`und-${country}`) as Intl.Locale & {
        timeZones?: ReadonlyArray<string>
        getTimeZones?: () => ReadonlyArray<string>
      }
      const listed = locale.getTimeZones?.() ?? locale.timeZones ?? []
      assert.isAbove(listed.length, 1, `${country} spans several zones`)
      assert.include(listed, canonical(zone), country)
    }
  })

  it("without ICU region data (an engine lacking Intl.Locale zones), representatives remain and others have none", () => {
    const none = () => []
    assert.deepStrictEqual(time.countryZonesFrom("US", none), { representative: "America/New_York", all: ["America/New_York"] })
    assert.deepStrictEqual(time.countryZonesFrom("BW", none), { representative: undefined, all: [] })
  })

  it("a lookup is cached: the same object each time", () => {
    assert.strictEqual(time.zonesOfCountry("BW"), time.zonesOfCountry("BW"))
  })
})
