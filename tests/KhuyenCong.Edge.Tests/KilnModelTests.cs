using KhuyenCong.Simulator;

namespace KhuyenCong.Edge.Tests;

public sealed class KilnModelTests
{
    [Fact]
    public void An_electric_kiln_fires_to_the_peak_soaks_and_cools_back_down()
    {
        var kiln = new KilnModel("k", KilnFuel.Electric) { RestBetweenFirings = TimeSpan.FromMinutes(10) };
        double peak = 0, hoursRunning = 0, energyKwh = 0;
        var sawRunning = false;
        // 20 simulated hours in 10 s steps.
        for (var t = 0; t < 20 * 360; t++)
        {
            kiln.Step(10);
            peak = Math.Max(peak, kiln.TemperatureC);
            if (kiln.Running)
            {
                sawRunning = true;
                hoursRunning += 10 / 3600.0;
            }
            energyKwh += kiln.ElectricPowerW * 10 / 3_600_000;
            Assert.InRange(kiln.ElectricPowerW, 0, kiln.RatedPowerW);
        }
        Assert.True(sawRunning);
        Assert.InRange(peak, 1240, 1260);
        // Program: 570 °C at 150 °C/h (3.8 h) + 650 °C at 250 °C/h (2.6 h) + 0.5 h soak ≈ 6.9 h.
        Assert.InRange(hoursRunning, 6.5, 7.5);
        // Roughly 8 kW of losses at peak and ~14 kW while ramping: an electric firing of 60–120 kWh is plausible.
        Assert.InRange(energyKwh, 60, 120);
        Assert.Equal(1, kiln.FiringsStarted);
        Assert.False(kiln.Running);
        Assert.True(kiln.TemperatureC < 400, $"still {kiln.TemperatureC:0} °C after cooling");
    }

    [Fact]
    public void A_gas_kiln_burns_lpg_in_proportion_to_the_heat_it_needs()
    {
        var kiln = new KilnModel("g", KilnFuel.Lpg) { RestBetweenFirings = TimeSpan.Zero };
        double lpgKg = 0;
        for (var t = 0; t < 8 * 360; t++)
        {
            kiln.Step(10);
            lpgKg += kiln.LpgKgPerHour * 10 / 3600;
            if (kiln.Running)
            {
                // heat = burner efficiency × LPG power
                var lpgPowerW = kiln.LpgKgPerHour / 3600 * KilnModel.LpgMjPerKg * 1e6;
                Assert.Equal(kiln.HeatW, lpgPowerW * kiln.BurnerEfficiency, 6);
                Assert.Equal(450, kiln.ElectricPowerW);
            }
        }
        Assert.InRange(lpgKg, 20, 200);
    }

    [Fact]
    public void The_same_steps_give_the_same_kiln()
    {
        static double Run()
        {
            var k = new KilnModel("k", KilnFuel.Electric);
            for (var i = 0; i < 5000; i++) k.Step(7);
            return k.TemperatureC;
        }
        Assert.Equal(Run(), Run());
    }
}
