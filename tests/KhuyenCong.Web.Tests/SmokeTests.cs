using Microsoft.Playwright;

namespace KhuyenCong.Web.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Chromium_starts()
    {
        using var pw = await Playwright.CreateAsync();
        await using var browser = await pw.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Args = ["--no-sandbox", "--disable-gpu", "--headless=new"] });
        var page = await browser.NewPageAsync();
        await page.SetContentAsync("<p id=x>hello</p>");
        Assert.Equal("hello", await page.TextContentAsync("#x"));
    }
}
